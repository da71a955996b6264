from django.urls import path

from . import updates, views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="list"),
    path("<str:reference>/", views.report_detail, name="detail"),
    path("<str:reference>/photos/<str:name>", views.report_photo, name="photo"),
    # the citizen's side once sent (reports.updates)
    path("<str:reference>/completer/<slug:action>/", updates.report_update, name="update"),
    path(
        "<str:reference>/desabonnement/<str:token>/",
        updates.report_unsubscribe,
        name="unsubscribe",
    ),
    path("<str:reference>/adresse/<str:token>/", updates.report_contact_confirm, name="contact"),
]
