"""Writes on accounts and roles."""

from __future__ import annotations

from django.db import transaction

from organisations.models import Organisation, Service

from .models import OrganisationAdmin, ServiceMembership, User
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
