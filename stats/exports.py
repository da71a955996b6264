"""Exports of requests: CSV and XLSX (formula-like cells neutralised), GeoJSON and GeoPackage.

Rows come from one query (values, iterated in chunks); coordinates are computed by PostGIS.
Personal columns are filled only for rows the caller is entitled to (accounts.permissions);
the open-data export has none at all and coordinates rounded to about 100 m.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.contrib.gis.db.models.functions import Transform
from django.db.models import BooleanField, Case, F, FloatField, Func, Q, Value, When

from reports.models import Report
from routing.questions import answers_display

PUBLIC_COLUMNS = [
    ("reference", "Numéro"),
    ("channel", "Canal"),
    ("category", "Catégorie"),
    ("domain", "Domaine"),
    ("status", "État"),
    ("created", "Déposée le"),
    ("closed", "Close le"),
    ("due", "Échéance"),
    ("commune", "Commune"),
    ("insee", "Code INSEE"),
    ("organisation", "Organisme"),
    ("service", "Service"),
    ("lon", "Longitude"),
    ("lat", "Latitude"),
]
PRIVATE_COLUMNS = [
    ("description", "Description"),
    ("address", "Adresse"),
    ("equipment", "Équipement"),
    ("contact_name", "Nom"),
    ("contact_email", "Courriel"),
    ("contact_phone", "Téléphone"),
    ("answers", "Réponses aux questions"),
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Coordinate(Func):
    output_field = FloatField()


def _entitled(private: Q | None):
    if private is None:
        return Value(False)
    if not private:  # an empty Q: every row (the operator)
        return Value(True)
    return Case(When(private, then=Value(True)), default=Value(False), output_field=BooleanField())


def export_rows(queryset, *, private: Q | None, open_data: bool = False) -> Iterator[dict]:
    """The rows of an export, in columns order; ``private`` marks the rows whose personal
    columns may be filled (None: none of them)."""
    point = Transform("location", 4326)
    qs = queryset.annotate(
        lon=_Coordinate(point, function="ST_X"),
        lat=_Coordinate(point, function="ST_Y"),
        entitled=_entitled(private),
        category_name=F("category__name"),
        domain_name=F("category__domain__name"),
        commune_name=F("commune__name"),
        commune_insee=F("commune__insee"),
        organisation_name=F("organisation__name"),
        service_name=F("service__name"),
        author_email=F("author__email"),
    ).order_by("created_at", "pk")
    fields = [
        "reference",
        "channel",
        "status",
        "created_at",
        "closed_at",
        "due_at",
        "lon",
        "lat",
        "entitled",
        "category_name",
        "domain_name",
        "commune_name",
        "commune_insee",
        "organisation_name",
        "service_name",
        "description",
        "address_label",
        "equipment_label",
        "contact_name",
        "contact_email",
        "contact_phone",
        "author_email",
        "answers",
        "category__extra_questions",
    ]
    digits = 3 if open_data else 6
    for r in qs.values(*fields).iterator(chunk_size=2000):
        row = {
            "reference": r["reference"],
            "channel": r["channel"],
            "category": r["category_name"],
            "domain": r["domain_name"],
            "status": r["status"],
            "created": r["created_at"].date().isoformat(),
            "closed": r["closed_at"].date().isoformat() if r["closed_at"] else "",
            "due": r["due_at"].date().isoformat() if r["due_at"] else "",
            "commune": r["commune_name"] or "",
            "insee": r["commune_insee"] or "",
            "organisation": r["organisation_name"] or "",
            "service": r["service_name"] or "",
            "lon": round(r["lon"], digits) if r["lon"] is not None else None,
            "lat": round(r["lat"], digits) if r["lat"] is not None else None,
        }
        if not open_data:
            entitled = r["entitled"]
            row.update(
                {
                    "description": r["description"] if entitled else "",
                    "address": r["address_label"] if entitled else "",
                    "equipment": r["equipment_label"] if entitled else "",
                    "contact_name": r["contact_name"] if entitled else "",
                    "contact_email": (r["author_email"] or r["contact_email"]) if entitled else "",
                    "contact_phone": r["contact_phone"] if entitled else "",
                    "answers": "; ".join(
                        f"{question} : {answer}"
                        for question, answer in answers_display(
                            r["category__extra_questions"], r["answers"] or {}
                        )
                    )
                    if entitled
                    else "",
                }
            )
        yield row


def columns(open_data: bool) -> list[tuple[str, str]]:
    return PUBLIC_COLUMNS if open_data else PUBLIC_COLUMNS + PRIVATE_COLUMNS


def reports_for(q: Q):
    return Report.objects.filter(q)


def reports_for_open_data():
    """What the public may reuse: visible, not held for moderation."""
    return Report.objects.filter(is_hidden=False, moderation_pending=False)


class _Echo:
    def write(self, value):
        return value


def csv_chunks(rows: Iterable[dict], cols: list[tuple[str, str]]) -> Iterator[str]:
    """CSV for French spreadsheets: UTF-8 with a BOM, ";" separated, formulas neutralised."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow([label for _, label in cols])
    for row in rows:
        yield writer.writerow([neutralise(row.get(key, "")) for key, _ in cols])


def xlsx_bytes(rows: Iterable[dict], cols: list[tuple[str, str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Demandes")
    sheet.append([label for _, label in cols])
    for row in rows:
        sheet.append([neutralise(row.get(key, "")) for key, _ in cols])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def geojson_chunks(rows: Iterable[dict], cols: list[tuple[str, str]]) -> Iterator[str]:
    yield '{"type":"FeatureCollection","features":['
    first = True
    for row in rows:
        geometry = (
            {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            if row["lon"] is not None
            else None
        )
        props = {key: row.get(key, "") for key, _ in cols if key not in ("lon", "lat")}
        feature = {
            "type": "Feature",
            "id": row["reference"],
            "geometry": geometry,
            "properties": props,
        }
        yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False)
        first = False
    yield "]}"


def gpkg_path(rows: Iterable[dict], cols: list[tuple[str, str]]) -> Path:
    """A GeoPackage (points, WGS84) in a temporary file, written by GDAL (pyogrio)."""
    import numpy as np
    import pyogrio.raw
    import shapely

    rows = list(rows)
    keys = [key for key, _ in cols if key not in ("lon", "lat")]
    geometry = (
        shapely.to_wkb(shapely.points([[r["lon"] or 0.0, r["lat"] or 0.0] for r in rows]))
        if rows
        else np.array([], dtype=object)
    )
    field_data = [np.array([str(r.get(k) or "") for r in rows], dtype=object) for k in keys]
    directory = Path(tempfile.mkdtemp(prefix="grc-export-"))
    path = directory / "demandes.gpkg"
    pyogrio.raw.write(
        str(path),
        geometry,
        field_data,
        keys,
        layer="demandes",
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:4326",
    )
    return path
