from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.links import site_url
from notifications.services import mail_enqueue


class SignupForm(forms.Form):
    email = forms.EmailField(label=_("Adresse électronique"), max_length=254)
    first_name = forms.CharField(label=_("Prénom (facultatif)"), required=False, max_length=150)
    last_name = forms.CharField(label=_("Nom (facultatif)"), required=False, max_length=150)
    password1 = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput,
        help_text=_("10 caractères au moins, pas un mot de passe courant."),
    )
    password2 = forms.CharField(
        label=_("Le même mot de passe"), strip=False, widget=forms.PasswordInput
    )
    website = forms.CharField(label=_("Ne pas remplir"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("website"):
            raise forms.ValidationError(_("Envoi refusé."))
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("Les deux mots de passe diffèrent."))
        return data


class VerifyForm(forms.Form):
    """The password chosen at sign-up, asked on the verification link's page."""

    password = forms.CharField(
        label=_("Le mot de passe choisi lors de l'inscription"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, its mail sent through the outbox (retried, never lost)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        # The portal's own address, never the Host header of the request.
        path = reverse("citizens:password-reset-confirm", args=[context["uid"], context["token"]])
        url = site_url(path)
        mail_enqueue(
            to=[to_email],
            template="password_reset",
            context={"url": url},
            topic="account:password-reset",
        )
