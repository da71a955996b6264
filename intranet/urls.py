from django.urls import path

from . import layers, routing, views

app_name = "intranet"
urlpatterns = [
    path("", views.home, name="home"),
    path("couches/", layers.catalogue, name="layers"),
    path("couches/<slug:slug>/", layers.layer_detail, name="layer"),
    path("imports/<int:pk>/", layers.layer_import, name="layer-import"),
    path("aiguillage/simulateur/", routing.simulator, name="routing-simulator"),
    path("aiguillage/couverture/", routing.coverage, name="routing-coverage"),
]
