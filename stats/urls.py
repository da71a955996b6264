from django.urls import path

from . import views

app_name = "stats"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("exports/", views.export_page, name="exports"),
    path("publiques/", views.public_statistics, name="public"),
    path("donnees-ouvertes/signalements.<str:fmt>", views.open_data, name="open-data"),
]
