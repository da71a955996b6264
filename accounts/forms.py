"""Login forms, the portal's and the admin's, with failed passwords counted (accounts.throttle)."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from . import throttle


class ThrottledLoginMixin:
    """Counts the try before the password is checked; too many failures for this account or
    from this address: refused with the reason, without checking the password. The try is kept
    as ``attempt``, which ``accounts.views.LoginView`` answers (429 with Retry-After, the
    browser remembered once logged in)."""

    attempt: throttle.LoginAttempt | None = None

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (email and password and self.request is not None):
            return super().clean()  # a field missing: no password checked, nothing to count
        self.attempt = throttle.login_attempt(self.request, email)
        if self.attempt.refusal is not None:
            raise ValidationError(self.attempt.refusal.message, code="throttled")
        cleaned = super().clean()  # raises on a wrong password: the failure stays counted
        self.attempt.success()
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
