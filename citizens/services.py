"""The citizen's account: sign up, prove the address, find one's requests (claimed)."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse

from accounts import services as accounts
from accounts.models import User
from core.links import site_url
from notifications.services import mail_enqueue
from tracking.services import requests_claim


@transaction.atomic
def signup(*, email: str, password: str, first_name: str = "", last_name: str = "") -> None:
    """Record the sign-up and mail the link that opens the account with this sign-up's
    password; if the address already has an account, mail its owner instead. The page shown is
    the same either way. Signing up again before verifying sends a new link and changes
    nothing until a link is used (each link opens the account only given its own sign-up's
    password)."""
    user, pending = accounts.citizen_signup(
        email=email, password=password, first_name=first_name, last_name=last_name
    )
    if pending is not None:
        link = site_url(reverse("citizens:verify", args=[accounts.verification_token(pending)]))
        mail_enqueue(
            to=[user.email],
            template="account_verify",
            context={"url": link, "requested_at": pending.created_at},
            topic="account:verify",
        )
    else:
        reset = site_url(reverse("citizens:password-reset"))
        mail_enqueue(
            to=[user.email],
            template="account_exists",
            context={"url": reset},
            topic="account:exists",
        )


@transaction.atomic
def verify(token: str, password: str) -> tuple[User | None, int]:
    """Open the account with the sign-up a verification link names, if ``password`` is the one
    chosen at that sign-up; attach the requests made without an account under that address.
    (user or None if the link does not work, requests claimed). Raises
    ``accounts.WrongPassword``, changing nothing, for another password, and
    ``ratelimit.TooMany`` when too many were tried on the account's links."""
    user = accounts.citizen_verify(token, password)
    if user is None:
        return None, 0
    return user, requests_claim(user)
