"""Writes on the territory: loading the official communes and EPCI boundaries (idempotent)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import transaction

from .models import Commune, Epci

DEFAULT_DATA_DIR = Path(settings.BASE_DIR) / "fixtures" / "territory"
S1 = "IGN – ADMIN EXPRESS-COG 2018, via gregoiredavid/france-geojson; INSEE COG 2026 (Etalab)"


@dataclass(frozen=True)
class TerritoryLoadResult:
    epci: Epci
    members: int
    neighbours: int
    created: int


def _multipolygon(geometry: dict) -> MultiPolygon:
    geom = GEOSGeometry(json.dumps(geometry), srid=4326)
    if geom.geom_type == "Polygon":
        geom = MultiPolygon(geom, srid=4326)
    if geom.geom_type != "MultiPolygon" or not geom.valid:
        raise ValueError(f"Invalid boundary: {geom.geom_type} valid={geom.valid}")
    geom.transform(settings.GRC_STORAGE_SRID)
    return geom


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


@transaction.atomic
def territory_load(*, data_dir: Path = DEFAULT_DATA_DIR) -> TerritoryLoadResult:
    """Create or update the EPCI, its member communes and the neighbouring communes.

    Keyed by SIREN and INSEE code, so loading twice changes nothing.
    """
    created = 0
    (epci_feature,) = _features(data_dir / "cahc-epci.geojson")
    props = epci_feature["properties"]
    epci, was_created = Epci.objects.update_or_create(
        siren=props["epci_siren"],
        defaults={
            "name": props["nom_long"] if "nom_long" in props else props["nom"],
            "short_name": props.get("sigle", ""),
            "kind": props.get("type", "CA"),
            "population": props.get("population_municipale"),
            "geom": _multipolygon(epci_feature["geometry"]),
            "source": f"{S1}; union of the 14 communes",
        },
    )
    created += was_created
    counts = {"members": 0, "neighbours": 0}
    for filename, member in (
        ("cahc-communes.geojson", True),
        ("cahc-neighbour-communes.geojson", False),
    ):
        for feature in _features(data_dir / filename):
            p = feature["properties"]
            _commune, was_created = Commune.objects.update_or_create(
                insee=p["insee"],
                defaults={
                    "name": p["nom"],
                    "siren": p.get("siren_commune") or "",
                    "postal_codes": p.get("codes_postaux") or "",
                    "department": p["departement"],
                    "population": p.get("population_municipale"),
                    "epci": epci if member else None,
                    "epci_name": p.get("epci_nom") or "",
                    "geom": _multipolygon(feature["geometry"]),
                    "source": S1,
                },
            )
            created += was_created
            counts["members" if member else "neighbours"] += 1
    return TerritoryLoadResult(epci=epci, created=created, **counts)
