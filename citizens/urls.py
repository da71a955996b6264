from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import views
from .forms import OutboxPasswordResetForm

app_name = "citizens"
urlpatterns = [
    path("inscription/", views.signup, name="signup"),
    path("verifier/<str:token>/", views.verify, name="verify"),
    path("mes-demandes/", views.my_requests, name="my-requests"),
    path("mes-demandes/rattacher/", views.claim, name="claim"),
    path(
        "mot-de-passe/oublie/",
        views.PasswordResetView.as_view(
            form_class=OutboxPasswordResetForm,
            template_name="citizens/password_reset.html",
            success_url=reverse_lazy("citizens:password-reset-sent"),
        ),
        name="password-reset",
    ),
    path(
        "mot-de-passe/envoye/",
        auth_views.PasswordResetDoneView.as_view(template_name="citizens/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path(
        "mot-de-passe/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(
            template_name="citizens/password_reset_confirm.html",
            success_url=reverse_lazy("citizens:password-reset-done"),
        ),
        name="password-reset-confirm",
    ),
    path(
        "mot-de-passe/change/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="citizens/password_reset_done.html"
        ),
        name="password-reset-done",
    ),
]
