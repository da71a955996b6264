"""Writes on addresses: import the national address base (BAN) CSV, generate demo addresses."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import transaction

from .models import Address

BATCH = 2_000
# Columns of the BAN's "adresses-<département>.csv" files that we read (";" separated, UTF-8).
BAN_COLUMNS = {
    "id",
    "numero",
    "rep",
    "nom_voie",
    "code_postal",
    "code_insee",
    "nom_commune",
    "x",
    "y",
}


def normalise(text: str) -> str:
    """Lower case, no accents, single spaces: how labels are stored for search and queries typed."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = "".join(c if c.isalnum() else " " for c in text)
    return " ".join(text.split())


def make_label(number: int | None, suffix: str, street: str, postcode: str, city: str) -> str:
    head = f"{number}{(' ' + suffix) if suffix else ''} " if number else ""
    return f"{head}{street} {postcode} {city}"


@dataclass
class ImportResult:
    read: int = 0
    imported: int = 0
    skipped_outside: int = 0
    rejected: int = 0


def _rows_to_addresses(
    rows: Iterable[dict], insee_codes: set[str], result: ImportResult
) -> Iterator[Address]:
    for row in rows:
        result.read += 1
        if row["code_insee"] not in insee_codes:
            result.skipped_outside += 1
            continue
        try:
            number = int(row["numero"]) if row["numero"] else None
            x, y = float(row["x"]), float(row["y"])  # Lambert-93 in the BAN files
        except ValueError:
            result.rejected += 1
            continue
        suffix = (row.get("rep") or "").strip()
        label = make_label(number, suffix, row["nom_voie"], row["code_postal"], row["nom_commune"])
        yield Address(
            ban_id=row["id"][:60],
            number=number,
            suffix=suffix[:10],
            street=row["nom_voie"][:200],
            postcode=row["code_postal"][:5],
            insee=row["code_insee"],
            city=row["nom_commune"][:100],
            location=Point(x, y, srid=2154),
            label=label[:300],
            search_text=normalise(label)[:300],
        )


def addresses_import_ban_csv(source: Path | IO[str], *, insee_codes: set[str]) -> ImportResult:
    """Load a BAN CSV (``adresses-62.csv``…), keeping the addresses of ``insee_codes``.

    Re-importing updates in place (by BAN id); the whole file loads in one transaction, so a
    broken file leaves the table as it was.
    """
    handle = source.open(encoding="utf-8", newline="") if isinstance(source, Path) else source
    reader = csv.DictReader(handle, delimiter=";")
    missing = BAN_COLUMNS - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"Not a BAN addresses CSV: missing columns {', '.join(sorted(missing))}.")
    result = ImportResult()
    fields = [
        "number",
        "suffix",
        "street",
        "postcode",
        "insee",
        "city",
        "location",
        "label",
        "search_text",
    ]
    with transaction.atomic():
        batch: list[Address] = []
        for address in _rows_to_addresses(reader, insee_codes, result):
            batch.append(address)
            if len(batch) >= BATCH:
                result.imported += _save(batch, fields)
        result.imported += _save(batch, fields)
    return result


def _save(batch: list[Address], fields: list[str]) -> int:
    if not batch:
        return 0
    Address.objects.bulk_create(
        batch, update_conflicts=True, unique_fields=["ban_id"], update_fields=fields
    )
    count = len(batch)
    batch.clear()
    return count


def demo_addresses_load() -> int:
    """Synthetic addresses along the demo streets of Libercourt (layer "voirie"): numbers every
    20 m, odd on the left and even on the right, 8 m from the axis, continuing across the pieces
    of a street. Deterministic; replaces the previous demo addresses."""
    from shapely import wkb

    from gis_layers.models import Feature

    addresses = []
    next_number: dict[tuple[str, int], int] = {}  # a street in several pieces numbers on
    streets = Feature.objects.filter(layer__slug="voirie").order_by("ref")
    for feature in streets.values_list("ref", "geom", "properties"):
        ref, geom, properties = feature
        name = properties.get("nom")
        if not name:
            continue
        line = wkb.loads(bytes(geom.wkb))
        for side, offset, first in (("left", 8.0, 1), ("right", 8.0, 2)):
            shifted = line.offset_curve(offset if side == "left" else -offset)
            if shifted.is_empty or shifted.length == 0:
                continue
            steps = int(line.length // 20)
            for i in range(steps):
                point = shifted.interpolate((i + 0.5) / max(steps, 1), normalized=True)
                number = next_number.get((name, first), first)
                next_number[name, first] = number + 2
                label = make_label(number, "", name, "62820", "Libercourt")
                addresses.append(
                    Address(
                        ban_id=f"demo_{ref}_{number:04d}",
                        number=number,
                        street=name,
                        postcode="62820",
                        insee="62907",
                        city="Libercourt",
                        location=Point(point.x, point.y, srid=settings.GRC_STORAGE_SRID),
                        label=label,
                        search_text=normalise(label),
                        is_synthetic=True,
                    )
                )
    with transaction.atomic():
        Address.objects.filter(is_synthetic=True).delete()
        Address.objects.bulk_create(addresses, batch_size=BATCH)
    return len(addresses)
