from django.urls import path

from . import views

urlpatterns = [
    path("", views.report_create, name="reports-create"),
    path("mine/", views.my_reports, name="reports-mine"),
    path("map/", views.reports_map, name="reports-map"),
    path("<str:reference>/", views.report_detail, name="reports-detail"),
]
