"""Writes on accounts and roles."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from organisations.models import Organisation, Service

from .models import ApiToken, OrganisationAdmin, ServiceMembership, User
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


def citizen_signup(
    *, email: str, password: str, first_name: str = "", last_name: str = ""
) -> tuple[User, bool]:
    """Create a citizen account, inactive until its address is verified; (user, created).

    The password is checked by the configured validators (ValidationError) before the address
    is looked up, so the answer never depends on whether it has an account (no enumeration).
    An address with a verified account creates nothing (the caller tells its owner by mail).
    An account never verified takes the new password: whoever proves the address by the link
    owns the password, so nobody can sign up first with someone else's address and keep the
    account once its owner verifies it.
    """
    from django.contrib.auth.password_validation import validate_password

    email = User.objects.normalize_email(email.strip()).lower()
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    validate_password(password, candidate)
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        if existing.email_verified_at is None and not existing.is_active:
            existing.set_password(password)
            existing.first_name, existing.last_name = first_name, last_name
            existing.save(update_fields=["password", "first_name", "last_name"])
        return existing, False
    user = User.objects.create_user(
        email, password, first_name=first_name, last_name=last_name, is_active=False
    )
    return user, True


def verification_token(user: User) -> str:
    """A signed, expiring token naming the user and the address it was sent to."""
    from django.core import signing

    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=VERIFY_SALT, compress=True)


def user_from_verification_token(token: str) -> User | None:
    """The user a valid token names (None if forged, expired, for another address, or
    already used: a verified address is never verified again, so a link works once and a
    deactivated account stays deactivated)."""
    from django.core import signing

    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.BadSignature:
        return None
    user = User.objects.filter(pk=data.get("u")).first()
    if user is None or user.email.lower() != data.get("e") or user.email_verified_at:
        return None
    return user


@transaction.atomic
def email_verify(user: User) -> User:
    """The address is proven: the account becomes active (once: see the token's check)."""
    user.email_verified_at = timezone.now()
    user.is_active = True
    user.save(update_fields=["email_verified_at", "is_active"])
    return user
