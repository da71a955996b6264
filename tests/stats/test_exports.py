"""Exports: formulas neutralised, personal columns by role, GIS formats readable, open data."""

import csv
import io
import json

import pytest
from django.contrib.gis.geos import Point
from openpyxl import load_workbook

from stats.tasks import open_data_build_task

pytestmark = pytest.mark.django_db

URL = "/statistiques/exports/"


@pytest.fixture
def requests(make_report):
    formula = make_report(
        "signalisation",
        description='=HYPERLINK("http://evil.example","Cliquez")',
        contact_email="habitant@example.org",
        contact_phone="+33 6 12 34 56 78",
    )
    water = make_report(
        "fuite-eau", location=Point(3.0123, 50.4834, srid=4326), contact_email="eau@example.org"
    )
    return formula, water


def rows_of_csv(response):
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_csv_neutralises_formulas_and_fills_contacts_only_where_entitled(client, demo, requests):
    formula, _water = requests
    client.force_login(demo.agent)  # roads + lighting in Libercourt
    rows = {r["Numéro"]: r for r in rows_of_csv(client.get(URL, {"format": "csv"}))}
    assert set(rows) == {formula.reference}  # water is the CAHC's, not Libercourt's
    row = rows[formula.reference]
    assert row["Description"] == '\'=HYPERLINK("http://evil.example","Cliquez")'
    assert row["Téléphone"] == "'+33 6 12 34 56 78"  # "+" starts a formula too
    assert row["Courriel"] == "habitant@example.org"


def test_an_agent_of_another_service_of_the_same_town_gets_no_contacts(client, demo, requests):
    formula, _ = requests
    client.force_login(demo.reception_agent)  # Libercourt, but not the roads service
    row = rows_of_csv(client.get(URL, {"format": "csv"}))[0]
    assert row["Numéro"] == formula.reference
    assert row["Courriel"] == "" and row["Description"] == "" and row["Téléphone"] == ""


def test_the_cahc_agent_exports_the_cahcs_requests(client, demo, requests):
    _, water = requests
    client.force_login(demo.cahc_agent)
    rows = rows_of_csv(client.get(URL, {"format": "csv"}))
    assert [r["Numéro"] for r in rows] == [water.reference]


def test_xlsx_neutralises_formulas_too(client, demo, requests):
    client.force_login(demo.lib_admin)
    response = client.get(URL, {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    values = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    description = values[header.index("Description")]
    assert description.startswith("'=") and sheet.cell(2, 1).data_type == "s"


def test_geojson_and_geopackage_are_readable_by_gis_tools(client, demo, requests, tmp_path):
    import pyogrio

    client.force_login(demo.superuser)
    collection = json.loads(b"".join(client.get(URL, {"format": "geojson"}).streaming_content))
    assert len(collection["features"]) == 2
    assert collection["features"][0]["geometry"]["type"] == "Point"
    path = tmp_path / "x.gpkg"
    path.write_bytes(b"".join(client.get(URL, {"format": "gpkg"}).streaming_content))
    info = pyogrio.read_info(path)
    assert info["features"] == 2 and info["crs"] == "EPSG:4326"


def test_filters_and_bad_filters(client, demo, requests):
    client.force_login(demo.superuser)
    _, water = requests
    rows = rows_of_csv(client.get(URL, {"format": "csv", "category": "fuite-eau"}))
    assert [(r["Numéro"], r["Catégorie"]) for r in rows] == [(water.reference, water.category.name)]
    page = client.get(URL, {"format": "csv", "status": "perdu"})
    assert page.status_code == 200 and "Inconnu" in page.content.decode()


def test_citizens_and_anonymous_cannot_export(client, demo, requests):
    assert client.get(URL, {"format": "csv"}).status_code == 302
    client.force_login(demo.citizen)
    assert client.get(URL, {"format": "csv"}).status_code == 403


def test_open_data_is_anonymised(client, demo, requests):
    open_data_build_task.apply()
    response = client.get("/statistiques/donnees-ouvertes/signalements.csv")
    rows = rows_of_csv(response)
    # The report with a link is held for moderation: not public, not in the open data.
    assert [r["Numéro"] for r in rows] == [requests[1].reference]
    assert "Courriel" not in rows[0] and "Description" not in rows[0]
    # the public point: snapped to the 10 m grid of Lambert-93 (not the exact point, not the
    # old 100 m rounding 3.012, 50.483)
    local = Point(3.0123, 50.4834, srid=4326).transform(2154, clone=True)
    public = Point(round(local.x, -1), round(local.y, -1), srid=2154).transform(4326, clone=True)
    lon, lat = float(rows[0]["Longitude"]), float(rows[0]["Latitude"])
    assert abs(lon - public.x) < 2e-6 and abs(lat - public.y) < 2e-6
    assert "example.org" not in json.dumps(rows)


def test_answers_to_the_extra_questions_are_exported_where_entitled(client, demo, make_report):
    light = make_report("lampadaire-eteint", answers={"how_many": "Toute la rue"})
    client.force_login(demo.agent)  # Libercourt's lighting: handles it
    row = rows_of_csv(client.get(URL, {"format": "csv"}))[0]
    assert row["Numéro"] == light.reference
    assert row["Réponses aux questions"] == "Combien de lampadaires sont éteints ? : Toute la rue"
    client.force_login(demo.reception_agent)  # same town, not the handling service
    assert rows_of_csv(client.get(URL, {"format": "csv"}))[0]["Réponses aux questions"] == ""
    open_data_build_task.apply()
    opened = rows_of_csv(client.get("/statistiques/donnees-ouvertes/signalements.csv"))
    assert "Réponses aux questions" not in opened[0]
