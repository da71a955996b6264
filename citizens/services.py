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
    """Create the account (inactive) and mail the verification link; if the address already
    has an account, mail its owner instead. The page shown is the same either way."""
    user, created = accounts.citizen_signup(
        email=email, password=password, first_name=first_name, last_name=last_name
    )
    if created or (not user.is_active and user.email_verified_at is None):
        # A new account, or one never verified (the first link lost or expired): a fresh link.
        link = site_url(reverse("citizens:verify", args=[accounts.verification_token(user)]))
        mail_enqueue(
            to=[user.email],
            template="account_verify",
            context={"url": link},
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
def verify(token: str) -> tuple[User | None, int]:
    """Activate the account a verification link names; attach the requests made without an
    account under that address. (user or None if the link is invalid, requests claimed)."""
    user = accounts.user_from_verification_token(token)
    if user is None:
        return None, 0
    accounts.email_verify(user)
    return user, requests_claim(user)
