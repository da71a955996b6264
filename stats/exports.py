"""Exports of requests: CSV and XLSX (formula-like cells neutralised), GeoJSON and GeoPackage.

Rows come from one query read through a server-side cursor (values, in chunks), coordinates
computed by PostGIS; no writer holds the whole export: CSV and GeoJSON are generated chunk by
chunk, XLSX (openpyxl's write-only mode) and GeoPackage (GDAL through pyogrio, appended in
batches) are written to a file. ``bounded`` puts the reading under a statement timeout.
Personal columns are filled only for rows the caller is entitled to (accounts.permissions),
and so is the exact point: other rows, and the open data, give the public point
(reports.positions: snapped to the public grid, none for a category about a home). The
open data has no personal column at all.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Transform
from django.db import connection, transaction
from django.db.models import BooleanField, Case, F, FloatField, Func, Q, Value, When

from reports.models import Report
from reports.positions import PublicLocation
from routing.questions import answers_display

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}
STREAMED = ("csv", "geojson")  # generated while sent; XLSX and GeoPackage are files

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


def _point(private: Q | None):
    """The point a row gives, in WGS84: the exact one where the caller is entitled (the rows of
    ``private``), the public one (reports.positions) everywhere else."""
    public = Transform(PublicLocation(), 4326)
    if private is None:
        return public
    exact = Transform("location", 4326)
    if not private:  # an empty Q: every row (the operator)
        return exact
    return Case(When(private, then=exact), default=public, output_field=PointField(srid=4326))


def export_rows(queryset, *, private: Q | None, open_data: bool = False) -> Iterator[dict]:
    """The rows of an export, in columns order; ``private`` marks the rows whose personal
    columns and exact point may be given (None: none of them)."""
    point = _point(private)
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
            "lon": round(r["lon"], 6) if r["lon"] is not None else None,
            "lat": round(r["lat"], 6) if r["lat"] is not None else None,
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


def bounded(rows: Iterator[dict], *, seconds: float) -> Iterator[dict]:
    """``rows`` read in a transaction whose statements are cancelled after ``seconds`` (the
    query and each fetch of its server-side cursor); the transaction ends with the iteration,
    or when a streamed response is closed early."""
    with transaction.atomic():
        statement_timeout(seconds)
        yield from rows


def statement_timeout(seconds: float) -> None:
    """Cancel the current transaction's statements after ``seconds``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)", [str(int(seconds * 1000))]
        )


class _Echo:
    def write(self, value):
        return value


def csv_chunks(rows: Iterable[dict], cols: list[tuple[str, str]]) -> Iterator[str]:
    """CSV for French spreadsheets: UTF-8 with a BOM, ";" separated, formulas neutralised."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow([label for _, label in cols])
    for row in rows:
        yield writer.writerow([neutralise(row.get(key, "")) for key, _ in cols])


def write_xlsx(rows: Iterable[dict], cols: list[tuple[str, str]], path: Path) -> int:
    """A workbook written to ``path`` by openpyxl's write-only mode (rows go to a temporary
    file as they come, never a whole sheet in memory); returns the number of rows."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Demandes")
    sheet.append([label for _, label in cols])
    count = 0
    for row in rows:
        sheet.append([neutralise(row.get(key, "")) for key, _ in cols])
        count += 1
    book.save(path)
    return count


def write_text(chunks: Iterable[str], path: Path) -> None:
    """Generated text (``csv_chunks``, ``geojson_chunks``) written to a file, UTF-8."""
    with path.open("w", encoding="utf-8", newline="") as out:
        for chunk in chunks:
            out.write(chunk)


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


GPKG_BATCH = 5000  # rows per append: memory stays that of one batch


def write_gpkg(rows: Iterable[dict], cols: list[tuple[str, str]], path: Path) -> int:
    """A GeoPackage (points, WGS84; a row without a point has a null geometry) written to
    ``path`` by GDAL (pyogrio), GPKG_BATCH rows at a time; returns the number of rows."""
    import numpy as np
    import pyogrio.raw
    import shapely

    keys = [key for key, _ in cols if key not in ("lon", "lat")]
    batch: list[dict] = []
    count = 0
    written = False

    def flush() -> None:
        nonlocal written
        coords = np.array(
            [(r["lon"], r["lat"]) if r["lon"] is not None else (np.nan, np.nan) for r in batch],
            dtype=float,
        )
        geometry = shapely.to_wkb(shapely.points(coords))
        geometry[np.isnan(coords[:, 0])] = None  # no public point: a null geometry
        field_data = [np.array([str(r.get(k) or "") for r in batch], dtype=object) for k in keys]
        pyogrio.raw.write(
            str(path),
            geometry,
            field_data,
            keys,
            layer="demandes",
            driver="GPKG",
            geometry_type="Point",
            crs="EPSG:4326",
            append=written,
        )
        written = True
        batch.clear()

    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= GPKG_BATCH:
            flush()
    if batch or not written:
        flush()
    return count


def write_file(fmt: str, rows: Iterable[dict], cols: list[tuple[str, str]], path: Path) -> None:
    """An export of any format written to ``path``."""
    if fmt == "csv":
        write_text(csv_chunks(rows, cols), path)
    elif fmt == "geojson":
        write_text(geojson_chunks(rows, cols), path)
    elif fmt == "xlsx":
        write_xlsx(rows, cols, path)
    else:
        write_gpkg(rows, cols, path)
