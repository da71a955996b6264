"""Exports without the whole file in memory, bounded in time; the open data built by the worker's
task and served as a file; the public position in the open data, the exact one where entitled.
"""

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.db import OperationalError, connection
from django.http import FileResponse, StreamingHttpResponse
from openpyxl import load_workbook

from stats import exports, open_data
from stats.tasks import open_data_build_task

pytestmark = pytest.mark.django_db

URL = "/statistiques/exports/"
OPEN = "/statistiques/donnees-ouvertes/signalements."
EXACT = Point(3.0108137, 50.4806219, srid=4326)


def snapped(point: Point, grid: float = 10) -> Point:
    local = point.transform(2154, clone=True)
    public = Point(round(local.x / grid) * grid, round(local.y / grid) * grid, srid=2154)
    return public.transform(4326, clone=True)


PUBLIC = snapped(EXACT)


def same(lon, lat, point: Point) -> bool:
    return abs(float(lon) - point.x) < 2e-6 and abs(float(lat) - point.y) < 2e-6


@pytest.fixture
def reports(make_report):
    sign = make_report("signalisation", location=EXACT)
    home = make_report("animaux-nuisibles", location=EXACT, address_label="12 rue des Lilas")
    return sign, home


def rows_of_csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


# --- Open data: built by the task, served as a file ------------------------------------------


def test_before_the_first_build_the_open_data_says_503_and_asks_for_one(
    client, reports, monkeypatch
):
    """The first visitor gets 503 with when to come back, and a build is asked of the worker
    (run here as it is published: Celery's eager mode), once: the next visitor gets the file."""
    from django.core.cache import cache

    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    response = client.get(OPEN + "csv")
    assert response.status_code == 503 and response["Retry-After"] == "120"
    assert "en préparation" in response.content.decode()
    assert cache.get("open-data:build-asked") == 1  # no other build asked for 120 s
    built = client.get(OPEN + "csv")
    assert built.status_code == 200
    assert [r["Numéro"] for r in rows_of_csv(built)] == [r.reference for r in reports]


def test_the_task_builds_every_format_and_the_view_serves_the_files(client, reports):
    assert open_data_build_task.apply().successful()
    for fmt in ("csv", "xlsx", "geojson", "gpkg"):
        response = client.get(OPEN + fmt)
        assert response.status_code == 200, fmt
        assert isinstance(response, FileResponse)  # sent from the file, never built here
        assert response["ETag"] and response["Last-Modified"]
        assert response["Access-Control-Allow-Origin"] == "*"
        body = b"".join(response.streaming_content)
        assert body == (open_data.directory() / f"signalements.{fmt}").read_bytes()
    again = client.get(OPEN + "csv", headers={"If-None-Match": response_etag(client, "csv")})
    assert again.status_code == 304


def response_etag(client, fmt):
    return client.get(OPEN + fmt)["ETag"]


def test_the_open_data_gives_the_public_point_and_none_for_a_home(client, reports):
    sign, home = reports
    open_data_build_task.apply()
    rows = {r["Numéro"]: r for r in rows_of_csv(client.get(OPEN + "csv"))}
    assert same(rows[sign.reference]["Longitude"], rows[sign.reference]["Latitude"], PUBLIC)
    assert rows[home.reference]["Longitude"] == rows[home.reference]["Latitude"] == ""
    assert rows[home.reference]["Commune"] == "Libercourt"
    features = json.loads(b"".join(client.get(OPEN + "geojson").streaming_content))["features"]
    by_id = {f["id"]: f for f in features}
    assert same(*by_id[sign.reference]["geometry"]["coordinates"], PUBLIC)
    assert by_id[home.reference]["geometry"] is None


def test_the_geopackage_has_a_null_geometry_for_a_home(client, reports, tmp_path):
    import pyogrio

    sign, home = reports
    open_data_build_task.apply()
    path = tmp_path / "x.gpkg"
    path.write_bytes(b"".join(client.get(OPEN + "gpkg").streaming_content))
    meta, _, geometry, fields = pyogrio.raw.read(path)
    references = list(fields[list(meta["fields"]).index("reference")])
    assert geometry[references.index(home.reference)] is None
    assert geometry[references.index(sign.reference)] is not None


def test_the_build_runs_again_only_when_the_public_reports_changed(reports, make_report):
    assert open_data.open_data_build() is True
    assert open_data.open_data_build() is False  # nothing changed: the files stay
    make_report("signalisation", location=Point(3.0125, 50.4810, srid=4326))
    assert open_data.open_data_build() is True
    assert open_data.current("csv").rows == 3


# --- Staff exports: streamed or from a file, capped, under a statement timeout --------------


def test_csv_and_geojson_are_streamed_row_by_row(client, demo, reports):
    client.force_login(demo.superuser)
    csv_response = client.get(URL, {"format": "csv"})
    assert isinstance(csv_response, StreamingHttpResponse)
    assert len(list(csv_response.streaming_content)) == 1 + 2  # the header, a chunk per row
    geojson = client.get(URL, {"format": "geojson"})
    assert isinstance(geojson, StreamingHttpResponse)
    assert len(list(geojson.streaming_content)) == 1 + 2 + 1  # head, a chunk per row, tail


def test_xlsx_and_geopackage_are_sent_from_a_file_already_removed(client, demo, reports):
    client.force_login(demo.superuser)
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("grc-export-*"))
    for fmt in ("xlsx", "gpkg"):
        response = client.get(URL, {"format": fmt})
        assert isinstance(response, FileResponse)
        assert set(temporary.glob("grc-export-*")) == before  # gone before it is sent
        assert len(b"".join(response.streaming_content)) > 1000  # read through its handle


def test_the_staff_export_gives_the_exact_point_only_where_entitled(client, demo, reports):
    sign, home = reports
    client.force_login(demo.agent)  # Libercourt's roads: handles the sign
    row = {r["Numéro"]: r for r in rows_of_csv(client.get(URL, {"format": "csv"}))}
    assert same(row[sign.reference]["Longitude"], row[sign.reference]["Latitude"], EXACT)
    client.force_login(demo.reception_agent)  # same town, handles neither
    rows = {r["Numéro"]: r for r in rows_of_csv(client.get(URL, {"format": "csv"}))}
    assert same(rows[sign.reference]["Longitude"], rows[sign.reference]["Latitude"], PUBLIC)
    assert rows[home.reference]["Longitude"] == ""
    client.force_login(demo.superuser)
    book = load_workbook(
        io.BytesIO(b"".join(client.get(URL, {"format": "xlsx"}).streaming_content))
    )
    values = [[c.value for c in row] for row in book.active.iter_rows()]
    lon = values[0].index("Longitude")
    assert all(same(v[lon], v[lon + 1], EXACT) for v in values[1:])


def test_an_export_over_the_row_cap_says_so_and_sends_nothing(client, demo, reports, settings):
    settings.GRC_EXPORT_FILE_MAX_ROWS = 1
    client.force_login(demo.superuser)
    page = client.get(URL, {"format": "xlsx"})
    html = page.content.decode()
    assert page["Content-Type"].startswith("text/html")
    assert "au plus 1 au format XLSX" in html and "format CSV" in html
    assert client.get(URL, {"format": "csv"})["Content-Type"].startswith("text/csv")
    settings.GRC_EXPORT_MAX_ROWS = 1
    assert "au plus 1 au format CSV" in client.get(URL, {"format": "csv"}).content.decode()


def test_reading_an_export_is_cancelled_past_its_statement_timeout(db):
    def slow():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
        yield {}

    with pytest.raises(OperationalError, match="statement timeout"):
        list(exports.bounded(slow(), seconds=0.1))


# --- Nothing to export: valid empty files ------------------------------------------------------


def read_export(body: bytes, fmt: str, tmp_path) -> list:
    """The data rows of an export file, read as a user's tool would."""
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    if fmt == "geojson":
        return json.loads(body)["features"]
    if fmt == "xlsx":
        rows = list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
        assert rows[0][0] == "Numéro"  # the header is there
        return rows[1:]
    import pyogrio

    path = tmp_path / "x.gpkg"
    path.write_bytes(body)
    info = pyogrio.read_info(path, layer="demandes")
    assert info["geometry_type"] == "Point" and info["crs"] == "EPSG:4326"
    return [None] * info["features"]


@pytest.mark.parametrize("fmt", ["csv", "geojson", "xlsx", "gpkg"])
def test_a_staff_export_that_selects_nothing_is_a_valid_empty_file(
    client, demo, reports, fmt, tmp_path
):
    client.force_login(demo.superuser)
    response = client.get(URL, {"format": fmt, "category": "fuite-eau"})  # no water leak
    assert response.status_code == 200
    assert response["Content-Type"] == exports.CONTENT_TYPES[fmt]
    assert read_export(b"".join(response.streaming_content), fmt, tmp_path) == []


def test_with_no_public_report_the_open_data_is_four_empty_files(client, db, tmp_path):
    """A new portal (or every report held): the build writes the four files, so that the
    open data answers 200 instead of 503 for ever."""
    assert open_data.open_data_build() is True
    for fmt in ("csv", "xlsx", "geojson", "gpkg"):
        response = client.get(OPEN + fmt)
        assert response.status_code == 200, fmt
        assert read_export(b"".join(response.streaming_content), fmt, tmp_path) == []
    assert open_data.current("csv").rows == 0


# --- The open data: one reading, the public columns only, every name ----------------------


def test_the_build_reads_the_rows_once_and_no_personal_column(reports):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert open_data.open_data_build() is True
    reads = [q["sql"] for q in queries.captured_queries if '"category_name"' in q["sql"]]
    assert len(reads) == 1  # the four files written from one reading
    for personal in ("description", "contact_", "address_label", "answers", "accounts_user"):
        assert personal not in reads[0]


def test_an_xlsx_past_the_rows_of_a_sheet_goes_on_in_another_sheet(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "XLSX_SHEET_ROWS", 2)
    cols = exports.columns(open_data=True)
    rows = [{"reference": f"S{i}", "lon": None, "lat": None} for i in range(5)]
    assert exports.write_file("xlsx", iter(rows), cols, tmp_path / "x.xlsx") == 5
    book = load_workbook(tmp_path / "x.xlsx")
    assert book.sheetnames == ["Demandes", "Demandes 2", "Demandes 3"]
    sheets = [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]
    assert all(sheet[0][0] == "Numéro" for sheet in sheets)  # each sheet has the header
    assert [row[0] for sheet in sheets for row in sheet[1:]] == [r["reference"] for r in rows]


def test_a_renamed_category_or_service_rebuilds_the_open_data(client, demo, reports):
    sign, _home = reports
    assert open_data.open_data_build() is True
    assert open_data.open_data_build() is False
    sign.category.name = "Panneau tombé"
    sign.category.save(update_fields=["name"])
    assert open_data.open_data_build() is True
    demo.voirie.name = "Voirie et réseaux"
    demo.voirie.save(update_fields=["name"])
    assert open_data.open_data_build() is True
    row = {r["Numéro"]: r for r in rows_of_csv(client.get(OPEN + "csv"))}[sign.reference]
    assert row["Catégorie"] == "Panneau tombé" and row["Service"] == "Voirie et réseaux"


def test_dates_are_the_local_day_not_utcs(client, demo, reports):
    import datetime as dt

    from tracking.models import CitizenRequest

    sign, _home = reports
    just_after_midnight = dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)  # 1 April in Paris
    CitizenRequest.objects.filter(pk=sign.pk).update(created_at=just_after_midnight)
    client.force_login(demo.superuser)
    rows = {r["Numéro"]: r for r in rows_of_csv(client.get(URL, {"format": "csv"}))}
    assert rows[sign.reference]["Déposée le"] == "2026-04-01"


# --- Exports bounded by a deadline --------------------------------------------------------------


def test_an_export_stops_at_its_deadline_whatever_each_statement_takes(db):
    """Time is bounded for the whole reading, not per statement: here no statement is slow."""
    import time

    def rows():
        for i in range(100):
            time.sleep(0.02)
            yield {"n": i}

    read = []
    with pytest.raises(exports.ExportTooLong):
        read.extend(exports.bounded(rows(), seconds=20, deadline=time.monotonic() + 0.2))
    assert 3 <= len(read) < 15


def test_an_export_is_read_under_timeouts_cut_to_its_deadline(db):
    """No statement outlives the deadline, and a transaction left idle (a client that stopped
    reading, a hung worker) is ended by the server well past it: both set for that transaction
    only."""
    import time

    def rows():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), "
                "current_setting('idle_in_transaction_session_timeout')"
            )
            yield cursor.fetchone()

    (inside,) = exports.bounded(rows(), seconds=20, deadline=time.monotonic() + 5)
    statement, idle = (int(value.removesuffix("ms")) for value in inside)
    assert 4000 < statement <= 5000 and 8000 < idle <= 10000


@pytest.fixture
def slow_rows(monkeypatch):
    """Each exported row takes 0.2 s to come (a busy database, a slow disk)."""
    import time

    real = exports.export_rows

    def slow(*args, **kwargs):
        for row in real(*args, **kwargs):
            time.sleep(0.2)
            yield row

    monkeypatch.setattr(exports, "export_rows", slow)


def test_a_file_export_past_its_deadline_says_so(client, demo, reports, settings, slow_rows):
    settings.GRC_EXPORT_DEADLINE_S = 0.3
    client.force_login(demo.superuser)
    page = client.get(URL, {"format": "xlsx"})
    assert page["Content-Type"].startswith("text/html")
    assert "L&#x27;export a dépassé 0.3 secondes" in page.content.decode()


def test_a_streamed_export_past_its_deadline_is_cut_off(client, demo, reports, settings, slow_rows):
    """Never a file that looks whole: the download ends in error (no closing chunk)."""
    settings.GRC_EXPORT_DEADLINE_S = 0.3
    client.force_login(demo.superuser)
    response = client.get(URL, {"format": "geojson"})
    with pytest.raises(exports.ExportTooLong):
        b"".join(response.streaming_content)
