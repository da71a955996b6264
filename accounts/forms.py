"""Login forms, the portal's and the admin's, with failed passwords counted (core.ratelimit)."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from core import ratelimit


class ThrottledLoginMixin:
    """Counts the try before the password is checked; too many failures for this account or
    from this address: refused with the reason, without checking the password. The view is
    wrapped in ``core.ratelimit.throttled_login`` (429 with Retry-After, the browser
    remembered once logged in)."""

    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (email and password and self.request is not None):
            return super().clean()  # a field missing: no password checked, nothing to count
        attempt = ratelimit.login_attempt(self.request, email)
        if attempt.refusal is not None:
            raise ValidationError(attempt.refusal.message, code="throttled")
        cleaned = super().clean()  # raises on a wrong password: the failure stays counted
        attempt.success()
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
