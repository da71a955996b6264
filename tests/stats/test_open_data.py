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


def test_before_the_first_build_the_open_data_says_503_and_when_to_come_back(client, reports):
    response = client.get(OPEN + "csv")
    assert response.status_code == 503 and response["Retry-After"] == "120"
    assert "en préparation" in response.content.decode()


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
