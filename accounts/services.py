"""Writes on accounts and roles."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, check_password, make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core import ratelimit
from organisations.models import Organisation, Service

from . import throttle
from .models import ApiToken, OrganisationAdmin, PendingSignup, ServiceMembership, User
from .permissions import forget_actor


@transaction.atomic
def user_upsert(
    *,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
) -> tuple[User, bool]:
    """Create the user if the email is new (password set only then); return (user, created)."""
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user, False
    if is_superuser:
        user = User.objects.create_superuser(
            email, password, first_name=first_name, last_name=last_name
        )
    else:
        user = User.objects.create_user(email, password, first_name=first_name, last_name=last_name)
    # Made by an operator (demo, staff): the address counts as verified.
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    return user, True


@transaction.atomic
def membership_grant(
    *, user: User, service: Service, role: str = ServiceMembership.Role.AGENT
) -> ServiceMembership:
    """Make the user a member of the service with that role (idempotent; updates the role)."""
    membership, _ = ServiceMembership.objects.update_or_create(
        user=user, service=service, defaults={"role": role}
    )
    forget_actor(user)
    return membership


@transaction.atomic
def membership_revoke(*, user: User, service: Service) -> None:
    ServiceMembership.objects.filter(user=user, service=service).delete()
    forget_actor(user)


@transaction.atomic
def organisation_admin_grant(*, user: User, organisation: Organisation) -> OrganisationAdmin:
    role, _ = OrganisationAdmin.objects.get_or_create(user=user, organisation=organisation)
    forget_actor(user)
    return role


@transaction.atomic
def api_token_create(
    *,
    service: Service,
    name: str,
    scopes: list[str],
    created_by: User | None = None,
    expires_at=None,
) -> tuple[ApiToken, str]:
    """Create a token for a service; return it with its secret (never stored, shown once)."""
    unknown = set(scopes) - set(ApiToken.Scope.values)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    secret = "grc_" + secrets.token_urlsafe(32)
    token = ApiToken(
        service=service,
        name=name,
        scopes=sorted(set(scopes)),
        created_by=created_by,
        expires_at=expires_at,
        prefix=secret[4:12],
        digest=token_digest(secret),
    )
    token.full_clean()
    token.save()
    return token, secret


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


VERIFY_SALT = "accounts.verify-email"
VERIFY_MAX_AGE = 3 * 24 * 3600  # a verification link works for three days


def _normalized_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


@transaction.atomic
def citizen_signup(
    *, email: str, password: str, first_name: str = "", last_name: str = ""
) -> tuple[User, PendingSignup | None]:
    """Record a citizen's sign-up; (the account, its pending sign-up or None).

    The password is checked by the configured validators (ValidationError) and hashed before
    the address is looked up, so neither the answer nor its cost depends on whether the address
    has an account (no enumeration). An address whose account is verified (or was opened by
    staff) gets no pending sign-up: None, the caller tells its owner by mail.

    Otherwise the sign-up is stored as its own ``PendingSignup`` (hashed password, names) and
    nothing else changes: a new address gets an inactive account with no usable password and no
    names (forgotten with its last pending sign-up: ``pending_signups_purge``); an address
    already signed up but never verified keeps its account exactly as it is. Only the link
    naming this pending row, given this sign-up's password, opens the account with it
    (``citizen_verify``), so a second sign-up with someone's address never changes what the
    first one's link opens, and its own link is useless to anyone who does not know the
    password it was made with.
    """
    from django.contrib.auth.password_validation import validate_password

    email = _normalized_email(email)
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    validate_password(password, candidate)
    hashed = make_password(password)
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email, None, is_active=False)
        except (IntegrityError, ValidationError):
            # The same address signed up at the same moment: the other request made the account.
            user = User.objects.select_for_update().filter(email__iexact=email).first()
            if user is None:
                raise
    if user.is_active or user.email_verified_at is not None:
        return user, None
    pending = PendingSignup.objects.create(
        user=user, password=hashed, first_name=first_name, last_name=last_name
    )
    return user, pending


def verification_token(pending: PendingSignup) -> str:
    """A signed token, valid VERIFY_MAX_AGE, naming the account, the address it is sent to,
    and the pending sign-up (whose password, never changed once stored, opens the account)."""
    payload = {"u": pending.user_id, "e": pending.user.email.lower(), "p": pending.pk}
    return signing.dumps(payload, salt=VERIFY_SALT, compress=True)


class WrongPassword(Exception):
    """The password given on a verification link is not the one its sign-up chose."""


def verification_pending(token: str, *, lock: bool = False) -> PendingSignup | None:
    """The pending sign-up a verification link names, with its account (``.user``, locked
    with ``lock``), while the link works; None when it does not. Reads only: opening the link
    (GET, a mail scanner following it) changes nothing; only ``citizen_verify`` with that
    sign-up's password does.

    None when the link is forged or older than three days, when the account's address is no
    longer the one it was sent to, when the account is already verified or active (a link works
    once, and never reopens an account closed by staff), or when its pending sign-up is gone.
    """
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    users = User.objects.select_for_update() if lock else User.objects.all()
    user = users.filter(pk=data.get("u")).first()
    if (
        user is None
        or user.email.lower() != data.get("e")
        or user.email_verified_at is not None
        or user.is_active
    ):
        return None
    pending = PendingSignup.objects.filter(pk=data.get("p"), user=user).first()
    if pending is None:
        return None
    pending.user = user
    return pending


@transaction.atomic
def citizen_verify(token: str, password: str) -> User | None:
    """The address is proven and the password is the one chosen at that sign-up: give the
    account the password and names of the sign-up the link names, activate it, and forget every
    pending sign-up of the account; the account, or None if the link does not work
    (``verification_pending``).

    Raises WrongPassword, changing nothing, when the password is not the one of the link's own
    sign-up: a link mailed for a sign-up made by someone else with this address (its password
    unknown to the address's owner) cannot open the account, even when the owner follows it.

    Every password tried is counted, before it is checked, per account (all its links:
    ``throttle.verification_attempt``) and given back when right; over the limit, raises
    ``ratelimit.TooMany`` without checking it: no link can be brute-forced, whoever calls.
    """
    pending = verification_pending(token, lock=True)
    if pending is None:
        return None
    ticket = throttle.verification_attempt(pending.user_id)
    if ticket.refusal is not None:
        raise ratelimit.TooMany(ticket.refusal)
    if not check_password(password, pending.password):
        raise WrongPassword  # counted; the link still works
    ticket.release()
    user = pending.user
    user.password = pending.password
    user.first_name, user.last_name = pending.first_name, pending.last_name
    user.is_active = True
    user.email_verified_at = timezone.now()
    user.save(
        update_fields=["password", "first_name", "last_name", "is_active", "email_verified_at"]
    )
    PendingSignup.objects.filter(user=user).delete()
    return user


@transaction.atomic
def pending_signups_purge() -> int:
    """Forget pending sign-ups whose link has expired (VERIFY_MAX_AGE), then the accounts that
    only sign-ups made (data minimisation): never verified, inactive, no usable password, no
    pending sign-up left, and named by no other row (a request, a role, a follow...: every
    relation to the user, so that a new one is covered). The number of sign-ups deleted.

    An account being signed up again at that moment is locked by its sign-up (``skip_locked``):
    it is kept, and its new pending row with it.
    """
    expired = timezone.now() - dt.timedelta(seconds=VERIFY_MAX_AGE)
    deleted, _ = PendingSignup.objects.filter(created_at__lt=expired).delete()
    placeholders = (
        User.objects.select_for_update(skip_locked=True)
        .filter(
            _named_by_nothing(),
            is_active=False,
            email_verified_at=None,
            password__startswith=UNUSABLE_PASSWORD_PREFIX,
        )
        .values_list("pk", flat=True)
    )
    User.objects.filter(pk__in=list(placeholders)).delete()
    return deleted


def _named_by_nothing() -> Q:
    """No row of any table points to the user (pending sign-ups, requests, roles, tokens made,
    follows, groups, the admin's log...), whichever app holds it: read from the relations."""
    condition = Q()
    for relation in User._meta.get_fields(include_hidden=True):
        if relation.auto_created and not relation.concrete and not relation.many_to_many:
            rows = relation.related_model._base_manager.filter(
                **{relation.field.name: OuterRef("pk")}
            )
            condition &= ~Exists(rows)
    return condition
