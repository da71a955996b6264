"""The login view of the portal and of the admin site, with failed passwords counted."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from core import ratelimit

from . import throttle
from .forms import LoginForm


class LoginView(auth_views.LoginView):
    """Django's login view answering its form's try (``ThrottledLoginMixin.attempt``): a try
    refused by the limits is a 429 with Retry-After and the reason; a login remembers this
    browser for the account (``throttle.remember_device``). Used by ``/compte/connexion/`` and
    by the admin site's login (``core.admin.PortalAdminSite.login``)."""

    authentication_form = LoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # Django names the page after django.contrib.sites' current site (the host name,
        # "127.0.0.1:8000", without a Site row): the portal's name comes from its context
        # processor (core.context_processors.portal), as on every other page.
        context.pop("site_name", None)
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        throttle.remember_device(self.request, response, form.get_user().email)
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        attempt = getattr(form, "attempt", None)
        if attempt is not None and attempt.refusal is not None:
            return ratelimit.refused(response, attempt.refusal)
        return response
