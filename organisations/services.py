"""Writes on organisations: the bodies of the territory, the domains and the default competences."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils.text import slugify

from territory.models import Commune, Epci

from .models import Competence, Domain, Organisation, Service

FIXTURES = Path(settings.BASE_DIR) / "fixtures"


@dataclass(frozen=True)
class OrganisationsLoadResult:
    organisations: int
    domains: int
    competences_created: int


def _town_halls(path: Path) -> dict[str, dict]:
    """Town-hall address, site, phone and position by INSEE code."""
    halls = {}
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        props = feature["properties"]
        location = GEOSGeometry(json.dumps(feature["geometry"]), srid=4326)
        location.transform(settings.GRC_STORAGE_SRID)
        halls[props["insee"]] = {
            "address": props["adresse"].replace(" ; ", "\n"),
            "website": props.get("site_web") or "",
            "phone": props.get("telephone") or "",
            "location": location,
        }
    return halls


@transaction.atomic
def domains_load(*, path: Path = FIXTURES / "domains.csv") -> int:
    """Create or update the domains of competence listed in the fixture (keyed by slug)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        Domain.objects.update_or_create(
            slug=row["slug"],
            defaults={
                "name": row["name"],
                "default_level": row["default_level"],
                "position": int(row["position"]),
                "description": row["description"],
            },
        )
    return len(rows)


@transaction.atomic
def organisations_load(
    *, epci: Epci, town_halls: Path = FIXTURES / "territory" / "cahc-mairies.geojson"
) -> OrganisationsLoadResult:
    """One organisation per member commune and one for the EPCI, then the default competences.

    Existing competences are left as staff set them: only missing (domain, commune) pairs are
    created, from each domain's default level.
    """
    halls = _town_halls(town_halls)
    epci_org, _ = Organisation.objects.update_or_create(
        epci=epci,
        defaults={
            "kind": Organisation.Kind.EPCI,
            "name": epci.name,
            "slug": slugify(epci.short_name or epci.name),
        },
    )
    count = 1
    communes = list(Commune.objects.filter(epci=epci))
    orgs_by_commune = {}
    for commune in communes:
        hall = halls.get(commune.insee, {})
        org, _ = Organisation.objects.update_or_create(
            commune=commune,
            defaults={
                "kind": Organisation.Kind.COMMUNE,
                "name": f"Ville de {commune.name}",
                "slug": slugify(commune.name),
                "address": hall.get("address", ""),
                "website": hall.get("website", ""),
                "phone": hall.get("phone", ""),
                "location": hall.get("location"),
            },
        )
        orgs_by_commune[commune.pk] = org
        count += 1
    domains = domains_load()
    existing = set(Competence.objects.values_list("domain_id", "commune_id"))
    missing = [
        Competence(
            domain=domain,
            commune=commune,
            organisation=epci_org
            if domain.default_level == Domain.Level.EPCI
            else orgs_by_commune[commune.pk],
            legal_basis="Compétence intercommunale (statuts de l'EPCI)"
            if domain.default_level == Domain.Level.EPCI
            else "Compétence communale",
        )
        for domain in Domain.objects.all()
        for commune in communes
        if (domain.pk, commune.pk) not in existing
    ]
    Competence.objects.bulk_create(missing)
    return OrganisationsLoadResult(
        organisations=count, domains=domains, competences_created=len(missing)
    )


@transaction.atomic
def service_upsert(
    *,
    organisation: Organisation,
    slug: str,
    name: str,
    email: str,
    phone: str,
    address: str,
    opening_hours: list[dict],
    domains: list[str] = (),
    is_reception: bool = False,
    description: str = "",
    opening_hours_note: str = "",
    on_call_phone: str = "",
) -> Service:
    """Create or update a service of an organisation (keyed by its slug), validated."""
    service = Service.objects.filter(organisation=organisation, slug=slug).first() or Service(
        organisation=organisation, slug=slug
    )
    for attr, value in {
        "name": name,
        "email": email,
        "phone": phone,
        "address": address,
        "opening_hours": opening_hours,
        "is_reception": is_reception,
        "description": description,
        "opening_hours_note": opening_hours_note,
        "on_call_phone": on_call_phone,
    }.items():
        setattr(service, attr, value)
    service.full_clean()
    service.save()
    service.domains.set(Domain.objects.filter(slug__in=domains))
    return service
