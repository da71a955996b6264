"""The account rules of the rate limits (core.ratelimit counts, these say what and whom):
logins, password resets, sign-ups and verification links.

Logins (the portal's and the admin's, ``LoginView`` with a ``ThrottledLoginMixin`` form) count
failed passwords per account (the email tried) and per address; a browser that logged in to
that account before carries a signed cookie and is counted on its own, so that failures made by
others (an attacker trying to lock a citizen out) never lock it out. A completed password reset
proves the mailbox: it logs the citizen in and remembers the browser the same way.

Password reset requests and sign-ups are also counted per email, whether an account exists or
not (no enumeration): a mailbox is not flooded with links. Passwords tried on verification
links are counted per account (``accounts.services.citizen_verify``): a link cannot be
brute-forced.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from core import ratelimit
from core.ratelimit import Limit, Ticket, client_address, take

DEVICE_COOKIE = "grc_device"
DEVICE_MAX_AGE = 180 * 24 * 3600  # renewed at each login
_DEVICE_SALT = "core.ratelimit.device"  # where it was first set: cookies already given stay valid
_DEVICES_KEPT = 4  # accounts remembered per browser (a family's computer)


def _normalized(email: str) -> str:
    return email.strip().lower()


@dataclass
class LoginAttempt:
    email: str
    ticket: Ticket

    @property
    def refusal(self) -> ratelimit.Refusal | None:
        return self.ticket.refusal

    def success(self) -> None:
        """The password was right: the try is not counted."""
        self.ticket.release()


def login_attempt(request, email: str) -> LoginAttempt:
    """Count a try to log in as ``email``, before its password is checked (a refused try costs
    no password hashing); ``success()`` gives the count back, so that only failures count.

    Failures are limited per account (the email tried, whether an account exists or not) and
    per address (``"login-account"``, ``"login-address"``): guessing one citizen's password
    from many addresses, or many accounts' from one, is slowed down to a few tries per window.
    A browser that logged in to this account before (``remember_device``) is counted on its
    own instead (``"login-device"``): an attacker failing on purpose, from anywhere, never
    locks a citizen out of the browser they use. The windows slide: nothing is banned for good.
    """
    email = _normalized(email)
    device = _device_for(request, email)
    counters = (
        [("login-device", device)]
        if device
        else [("login-account", email), ("login-address", client_address(request))]
    )
    return LoginAttempt(email=email, ticket=take(counters, _login_refused))


def remember_device(request, response, email: str) -> None:
    """This browser has proven it holds the account (a login, a password reset): its later
    logins to it are counted on their own (``login_attempt``), through a signed, HttpOnly
    cookie naming up to four accounts."""
    account = _account(_normalized(email))
    known = _devices(request)
    device = next((d for a, d in known if a == account), None) or secrets.token_urlsafe(12)
    value = [[account, device], *(entry for entry in known if entry[0] != account)]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(value[:_DEVICES_KEPT], salt=_DEVICE_SALT),
        max_age=DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _account(email: str) -> str:
    return salted_hmac(_DEVICE_SALT, email).hexdigest()[:20]


def _devices(request) -> list[list[str]]:
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        value = signing.loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:  # tampered with, or expired
        return []
    if not isinstance(value, list):
        return []
    return [
        entry
        for entry in value[:_DEVICES_KEPT]
        if isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)
    ]


def _device_for(request, email: str) -> str | None:
    account = _account(email)
    return next((device for known, device in _devices(request) if known == account), None)


def password_reset(request, email: str) -> ratelimit.Refusal | None:
    """Count a password reset request, per address and per email (``"reset-address"``,
    ``"reset-account"``): a mailbox is not flooded with links, nor the outbox. Counted the same
    whether an account has that email or not, so the answer tells nothing about it."""
    counters = [("reset-address", client_address(request)), ("reset-account", _normalized(email))]
    return take(counters, _reset_refused).refusal


def signup_stored(request, email: str) -> None:
    """Count a sign-up just stored (inside its transaction: ``ratelimit.count``), per address
    (``"signup"``) and per email (``"signup-account"``), whether the address has an account or
    not (no enumeration): neither a town's sign-ups nor one mailbox can be flooded. Raises
    ``ratelimit.TooMany`` over either limit; nothing is then counted."""
    ratelimit.count(request, "signup", also=[("signup-account", _normalized(email))])


def verification_attempt(account: int) -> Ticket:
    """Count a password tried on a verification link of ``account`` (the user's pk), before it
    is checked (``"verify-account"``, every link of the account together); ``release()`` it
    when the password was right. Over the limit the try is refused without checking anything:
    no link of the account can be brute-forced."""
    return take([("verify-account", str(account))], _verification_refused)


def _verification_refused(wait: int, _limit: Limit) -> str:
    return _("Trop de mots de passe essayés pour activer ce compte. Réessayez dans %(wait)s.") % {
        "wait": ratelimit.wait_in_words(wait)
    }


def _login_refused(wait: int, _limit: Limit) -> str:
    return _(
        "Trop de tentatives de connexion. Réessayez dans %(wait)s, "
        "ou demandez un nouveau mot de passe."
    ) % {"wait": ratelimit.wait_in_words(wait)}


def _reset_refused(wait: int, _limit: Limit) -> str:
    return _("Trop de demandes de nouveau mot de passe. Réessayez dans %(wait)s.") % {
        "wait": ratelimit.wait_in_words(wait)
    }
