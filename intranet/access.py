"""The intranet's gate: signed in, then a role in an organisation (accounts.permissions decides)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from accounts import permissions


def staff_required(view: Callable) -> Callable:
    """Anonymous visitors are sent to the login page; signed-in citizens get a 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not permissions.can_access_intranet(request.user):
            raise PermissionDenied("Réservé aux agents des collectivités.")
        return view(request, *args, **kwargs)

    return wrapper
