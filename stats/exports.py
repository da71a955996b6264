"""Exports of requests: CSV and XLSX (formula-like cells neutralised), GeoJSON and GeoPackage.

Rows come from one query read through a server-side cursor (values, in chunks), coordinates
computed by PostGIS; no writer holds the whole export: CSV and GeoJSON are generated chunk by
chunk, XLSX (openpyxl's write-only mode) and GeoPackage (GDAL through pyogrio, appended in
batches) are written to a file; ``write_files`` feeds several files from one reading.
``bounded`` puts the reading under a wall-clock deadline and statement and idle timeouts.
Personal columns are filled only for rows the caller is entitled to (accounts.permissions),
and so is the exact point: other rows, and the open data, give the stored public point
(reports.positions: snapped to the public grid, none for a category about a home). The
open data reads no personal column at all.
"""

from __future__ import annotations

import contextlib
import csv
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Transform
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Case, F, FloatField, Func, Q, Value, When
from django.utils import timezone

from reports.models import Report
from routing.questions import answers_display
from tracking.models import Channel, Status

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
    ("status_code", "Code état"),  # the codes, for machine users (the labels above are French)
    ("channel_code", "Code canal"),
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
    ``private``), the stored public one (reports.positions) everywhere else."""
    public = Transform("public_location", 4326)
    if private is None:
        return public
    exact = Transform("location", 4326)
    if not private:  # an empty Q: every row (the operator)
        return exact
    return Case(When(private, then=exact), default=public, output_field=PointField(srid=4326))


_PUBLIC_FIELDS = [
    "reference",
    "channel",
    "status",
    "created_at",
    "closed_at",
    "due_at",
    "lon",
    "lat",
    "category_name",
    "domain_name",
    "commune_name",
    "commune_insee",
    "organisation_name",
    "service_name",
]
_PRIVATE_FIELDS = [
    "entitled",
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


def _label(choices, code: str) -> str:
    """The French label of a status or channel code (the code itself if unknown)."""
    try:
        return str(choices(code).label)
    except ValueError:
        return code


def _day(value) -> str:
    """A date as the portal shows it: the local day (Europe/Paris), not UTC's."""
    return timezone.localdate(value).isoformat() if value else ""


def export_rows(queryset, *, private: Q | None, open_data: bool = False) -> Iterator[dict]:
    """The rows of an export, in columns order; ``private`` marks the rows whose personal
    columns and exact point may be given (None: none of them). The open data does not even
    read the personal columns."""
    point = _point(private)
    qs = queryset.annotate(
        lon=_Coordinate(point, function="ST_X"),
        lat=_Coordinate(point, function="ST_Y"),
        category_name=F("category__name"),
        domain_name=F("category__domain__name"),
        commune_name=F("commune__name"),
        commune_insee=F("commune__insee"),
        organisation_name=F("organisation__name"),
        service_name=F("service__name"),
    )
    if not open_data:
        qs = qs.annotate(entitled=_entitled(private), author_email=F("author__email"))
    fields = _PUBLIC_FIELDS if open_data else _PUBLIC_FIELDS + _PRIVATE_FIELDS
    for r in qs.order_by("created_at", "pk").values(*fields).iterator(chunk_size=2000):
        row = {
            "reference": r["reference"],
            "channel": _label(Channel, r["channel"]),
            "category": r["category_name"],
            "domain": r["domain_name"],
            "status": _label(Status, r["status"]),
            "status_code": r["status"],
            "channel_code": r["channel"],
            "created": _day(r["created_at"]),
            "closed": _day(r["closed_at"]),
            "due": _day(r["due_at"]),
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


class ExportTooLong(Exception):
    """An export stopped at its deadline."""


def bounded(
    rows: Iterator[dict], *, seconds: float, deadline: float | None = None
) -> Iterator[dict]:
    """``rows`` read in a transaction that ends with the iteration (or when a streamed
    response is closed early), under a wall-clock ``deadline`` (a ``time.monotonic()`` value)
    for the whole reading, checked at each row: past it, ExportTooLong. Each statement (the
    query, each fetch of its server-side cursor) is cancelled after ``seconds`` or at the
    deadline, whichever comes first. A backstop for a reading that stops asking for rows (a
    client that stopped reading a stream, a hung worker): the server ends the session once
    it is idle in the transaction for twice the time that was left (or ``seconds``)."""
    with transaction.atomic():
        left = seconds if deadline is None else deadline - time.monotonic()
        _bound(seconds, deadline)
        idle_timeout(2 * left)
        try:
            for count, row in enumerate(rows, start=1):
                if deadline is not None and time.monotonic() >= deadline:
                    raise ExportTooLong(f"export stopped at its deadline after {count - 1} rows")
                if count % 2000 == 0:  # the next fetch may only use what is left
                    _bound(seconds, deadline)
                yield row
        except BaseException:
            # Stopped early: the reading's server-side cursor is closed while its transaction
            # lives (after the rollback it would be an error of its own).
            with contextlib.suppress(DatabaseError):
                getattr(rows, "close", lambda: None)()
            raise


def _bound(seconds: float, deadline: float | None) -> None:
    """Set the statement timeout to ``seconds`` or what is left before ``deadline``."""
    remaining = seconds if deadline is None else min(seconds, deadline - time.monotonic())
    if remaining <= 0:
        raise ExportTooLong("export deadline already passed")
    statement_timeout(remaining)


def statement_timeout(seconds: float) -> None:
    """Cancel the current transaction's statements after ``seconds``."""
    _local_setting("statement_timeout", seconds)


def idle_timeout(seconds: float) -> None:
    """End the session if it stays idle in the current transaction for ``seconds``."""
    _local_setting("idle_in_transaction_session_timeout", seconds)


def _local_setting(name: str, seconds: float) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [name, str(max(1, int(seconds * 1000)))])


class _Echo:
    def write(self, value):
        return value


class _Csv:
    """CSV for French spreadsheets: UTF-8 with a BOM, ";" separated, formulas neutralised."""

    def __init__(self, cols: list[tuple[str, str]]):
        self._cols = cols
        self._writer = csv.writer(_Echo(), delimiter=";")

    def head(self) -> str:
        return "\ufeff" + self._writer.writerow([label for _, label in self._cols])

    def row(self, row: dict) -> str:
        return self._writer.writerow([neutralise(row.get(key, "")) for key, _ in self._cols])

    def tail(self) -> str:
        return ""


class _GeoJson:
    """A FeatureCollection of points (WGS84), null geometry for a row without one."""

    def __init__(self, cols: list[tuple[str, str]]):
        self._keys = [key for key, _ in cols if key not in ("lon", "lat")]
        self._first = True

    def head(self) -> str:
        return '{"type":"FeatureCollection","features":['

    def row(self, row: dict) -> str:
        geometry = (
            {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            if row["lon"] is not None
            else None
        )
        feature = {
            "type": "Feature",
            "id": row["reference"],
            "geometry": geometry,
            "properties": {key: row.get(key, "") for key in self._keys},
        }
        text = ("" if self._first else ",") + json.dumps(feature, ensure_ascii=False)
        self._first = False
        return text

    def tail(self) -> str:
        return "]}"


def _chunks(text, rows: Iterable[dict]) -> Iterator[str]:
    yield text.head()
    for row in rows:
        yield text.row(row)
    if tail := text.tail():
        yield tail


def csv_chunks(rows: Iterable[dict], cols: list[tuple[str, str]]) -> Iterator[str]:
    """A CSV generated a row at a time (the header first): streamed as it is read."""
    return _chunks(_Csv(cols), rows)


def geojson_chunks(rows: Iterable[dict], cols: list[tuple[str, str]]) -> Iterator[str]:
    """A GeoJSON FeatureCollection generated a feature at a time: streamed as it is read."""
    return _chunks(_GeoJson(cols), rows)


class _TextFile:
    """CSV or GeoJSON text written to a file a row at a time."""

    def __init__(self, text, path: Path):
        self._text = text
        self._out = path.open("w", encoding="utf-8", newline="")
        self._out.write(text.head())

    def add(self, row: dict) -> None:
        self._out.write(self._text.row(row))

    def close(self) -> None:
        self._out.write(self._text.tail())
        self._out.close()

    def abort(self) -> None:
        self._out.close()


XLSX_SHEET_ROWS = 1_048_575  # a sheet's rows under the header: more go to another sheet


class _Xlsx:
    """A workbook by openpyxl's write-only mode (rows go to a temporary file as they come,
    never a whole sheet in memory); past XLSX_SHEET_ROWS rows the next ones start a new sheet
    ("Demandes 2"…), each with the header, so that every sheet stays valid."""

    def __init__(self, cols: list[tuple[str, str]], path: Path):
        from openpyxl import Workbook

        self._book = Workbook(write_only=True)
        self._cols, self._path = cols, path
        self._sheets = 0
        self._rows = XLSX_SHEET_ROWS
        self._sheet = None

    def add(self, row: dict) -> None:
        if self._rows >= XLSX_SHEET_ROWS:
            self._start_sheet()
        self._sheet.append([neutralise(row.get(key, "")) for key, _ in self._cols])
        self._rows += 1

    def _start_sheet(self) -> None:
        self._sheets += 1
        title = "Demandes" if self._sheets == 1 else f"Demandes {self._sheets}"
        self._sheet = self._book.create_sheet(title)
        self._sheet.append([label for _, label in self._cols])
        self._rows = 0

    def close(self) -> None:
        if self._sheet is None:  # no row: the header alone
            self._start_sheet()
        self._book.save(self._path)

    def abort(self) -> None:
        for sheet in self._book.worksheets:  # the sheets' temporary files
            sheet.close()


GPKG_BATCH = 5000  # rows per append: memory stays that of one batch


class _Gpkg:
    """A GeoPackage (points, WGS84; a row without a point has a null geometry) written by GDAL
    (pyogrio), GPKG_BATCH rows at a time; an empty export is a valid, empty layer."""

    def __init__(self, cols: list[tuple[str, str]], path: Path):
        self._keys = [key for key, _ in cols if key not in ("lon", "lat")]
        self._path = path
        self._batch: list[dict] = []
        self._written = False

    def add(self, row: dict) -> None:
        self._batch.append(row)
        if len(self._batch) >= GPKG_BATCH:
            self._flush()

    def _flush(self) -> None:
        import numpy as np
        import pyogrio.raw
        import shapely

        batch = self._batch
        coords = np.array(
            [(r["lon"], r["lat"]) if r["lon"] is not None else (np.nan, np.nan) for r in batch],
            dtype=float,
        ).reshape(-1, 2)  # (0, 2) when there is no row at all
        geometry = shapely.to_wkb(shapely.points(coords))
        geometry[np.isnan(coords[:, 0])] = None  # no public point: a null geometry
        field_data = [
            np.array([str(r.get(k) or "") for r in batch], dtype=object) for k in self._keys
        ]
        pyogrio.raw.write(
            str(self._path),
            geometry,
            field_data,
            self._keys,
            layer="demandes",
            driver="GPKG",
            geometry_type="Point",
            crs="EPSG:4326",
            append=self._written,
        )
        self._written = True
        batch.clear()

    def close(self) -> None:
        if self._batch or not self._written:
            self._flush()

    def abort(self) -> None:
        pass


def _writer(fmt: str, cols: list[tuple[str, str]], path: Path):
    if fmt == "csv":
        return _TextFile(_Csv(cols), path)
    if fmt == "geojson":
        return _TextFile(_GeoJson(cols), path)
    if fmt == "xlsx":
        return _Xlsx(cols, path)
    if fmt == "gpkg":
        return _Gpkg(cols, path)
    raise ValueError(fmt)


def write_files(rows: Iterable[dict], cols: list[tuple[str, str]], paths: dict[str, Path]) -> int:
    """Files of several formats (``paths``: format -> path) written from one reading of
    ``rows``, each row handed to every writer as it comes; returns the number of rows."""
    writers = [_writer(fmt, cols, path) for fmt, path in paths.items()]
    count = 0
    try:
        for row in rows:
            for writer in writers:
                writer.add(row)
            count += 1
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    return count


def write_file(fmt: str, rows: Iterable[dict], cols: list[tuple[str, str]], path: Path) -> int:
    """An export of any format written to ``path``; returns the number of rows."""
    return write_files(rows, cols, {fmt: path})
