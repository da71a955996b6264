"""Who is calling: a session user or an API token (Authorization header only).

``principal_for(request)`` is what the permission module receives for API calls: an ApiToken, a
User, or AnonymousUser. Tokens in the query string are refused outright, so that they never reach
access logs, caches or browser history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ApiToken
from .permissions import token_refusal
from .services import token_digest

URL_TOKEN_PARAMS = ("token", "access_token", "api_key", "apikey", "key")
_TOUCH_EVERY = dt.timedelta(minutes=5)


class AuthenticationError(Exception):
    """A credential was given but cannot be used; ``status`` is 400 or 401."""

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


def bearer_secret(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _space, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def token_for_request(request) -> ApiToken | None:
    """The token in the Authorization header, or None; raises AuthenticationError if unusable."""
    if any(name in request.GET for name in URL_TOKEN_PARAMS):
        raise AuthenticationError(
            _(
                "Les jetons d'API ne sont acceptés que dans l'en-tête Authorization (Bearer), "
                "jamais dans l'URL."
            ),
            status=400,
        )
    secret = bearer_secret(request)
    if secret is None:
        return None
    token = ApiToken.objects.select_related("service").filter(digest=token_digest(secret)).first()
    if token is None:
        raise AuthenticationError(_("Jeton d'API inconnu."))
    refusal = token_refusal(token)  # revoked, expired, or its service is inactive
    if refusal is not None:
        raise AuthenticationError(refusal)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def principal_for(request) -> Any:
    """The API token when one is sent, else the session user (possibly anonymous)."""
    token = token_for_request(request)
    return token if token is not None else request.user
