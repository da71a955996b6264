from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("<str:reference>/", views.report_detail, name="detail"),
    path("<str:reference>/photos/<str:name>", views.report_photo, name="photo"),
]
