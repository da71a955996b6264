"""Reads on organisations: who is competent for what, and which service handles it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from territory.models import Commune

from .models import Competence, Domain, Organisation, Service


@dataclass(frozen=True)
class WhoDoesWhat:
    domain: Domain
    organisation: Organisation
    service: Service | None  # None when the organisation has no service for it on the portal


def handling_service(organisation: Organisation, domain: Domain) -> Service | None:
    """The organisation's active service for the domain, else its reception service.

    Works on prefetched ``organisation.active_services`` when present (see ``who_does_what``).
    """
    services = getattr(organisation, "active_services", None)
    if services is None:
        services = list(organisation.services.filter(is_active=True).prefetch_related("domains"))
    for service in services:
        if any(d.pk == domain.pk for d in service.domains.all()):
            return service
    return next((s for s in services if s.is_reception), None)


def who_does_what(commune: Commune) -> list[WhoDoesWhat]:
    """For each domain, the competent organisation on the commune and its handling service."""
    active = Prefetch(
        "organisation__services",
        queryset=Service.objects.filter(is_active=True)
        .prefetch_related("domains")
        .order_by("name"),
        to_attr="active_services",
    )
    competences = (
        Competence.objects.filter(commune=commune)
        .select_related("domain", "organisation")
        .prefetch_related(active)
        .order_by("domain__position")
    )
    return [
        WhoDoesWhat(c.domain, c.organisation, handling_service(c.organisation, c.domain))
        for c in competences
    ]


def directory() -> list[Organisation]:
    """Organisations with their active services, the ones on the portal first (contacts page)."""
    return list(
        Organisation.objects.prefetch_related(
            Prefetch(
                "services",
                queryset=Service.objects.filter(is_active=True).order_by("-is_reception", "name"),
            )
        )
        .select_related("commune")
        .order_by("-on_board", "-kind", "name")
    )


def town_hall_phone(commune_id: int) -> str:
    """The number of the commune's town-hall reception, for "contactez l'accueil de la mairie":
    its reception service's phone on the portal, else the town hall's own number ("" if none)."""
    organisation = (
        Organisation.objects.filter(commune_id=commune_id)
        .prefetch_related(
            Prefetch(
                "services",
                queryset=Service.objects.filter(is_active=True, is_reception=True),
                to_attr="receptions",
            )
        )
        .first()
    )
    if organisation is None:
        return ""
    reception = next(iter(organisation.receptions), None)
    return reception.phone if reception is not None else organisation.phone
