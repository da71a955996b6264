"""One public precision for a report's position, on every public output (reports.positions).

A report is made at a known point with seven decimals. Every public output gives the point
snapped to the 10 m grid of Lambert-93 (computed here independently, with GDAL), never the
exact one, and filters (bbox, distance) test that public point; a category about a home gives
no point, no address, no description and no photo to the public. Its author, the holder of the
tracking key and the agents handling it keep the exact point.
"""

import json

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse

from reports.selectors import open_reports_near
from tests.images import checked_jpeg

pytestmark = pytest.mark.django_db

EXACT = Point(3.0108137, 50.4806219, srid=4326)  # a street near Libercourt's town hall
CAHC = "2.85,50.35,3.10,50.53"
HOME_ADDRESS = "12 rue des Lilas"
HOME_TEXT = "Nid de guêpes dans le jardin"


def snapped(point: Point, grid: float = 10) -> Point:
    """The expected public point: Lambert-93, rounded to the grid, back to WGS84."""
    local = point.transform(2154, clone=True)
    public = Point(round(local.x / grid) * grid, round(local.y / grid) * grid, srid=2154)
    return public.transform(4326, clone=True)


PUBLIC = snapped(EXACT)


def same(coords, point: Point) -> bool:
    return abs(coords[0] - point.x) < 2e-6 and abs(coords[1] - point.y) < 2e-6


def test_the_chosen_point_is_moved_by_the_grid():
    moved = EXACT.transform(2154, clone=True).distance(PUBLIC.transform(2154, clone=True))
    assert 1 < moved < 7.1  # so that an output giving the exact point cannot pass as snapped


@pytest.fixture
def sign(make_report):
    return make_report(
        "signalisation", location=EXACT, address_label="3 rue Victor Hugo", contact_phone="0612"
    )


@pytest.fixture
def home(make_report):
    return make_report(
        "animaux-nuisibles",
        location=EXACT,
        address_label=HOME_ADDRESS,
        description=HOME_TEXT,
        photos=[checked_jpeg()],
    )


def test_the_categories_about_a_home_hide_their_position(categories):
    hidden = {slug for slug, c in categories.items() if c.public_position == "hidden"}
    assert hidden == {"bac-non-collecte", "animaux-nuisibles"}
    assert not categories["bac-non-collecte"].place_is_public
    assert categories["nid-de-poule"].place_is_public


# --- The OGC API collection ------------------------------------------------------------------


def test_ogc_items_and_item_give_the_snapped_point(client, sign):
    items = client.get("/ogcapi/collections/signalements/items").json()
    (feature,) = items["features"]
    assert same(feature["geometry"]["coordinates"], PUBLIC)
    assert not same(feature["geometry"]["coordinates"], EXACT)
    item = client.get(f"/ogcapi/collections/signalements/items/{sign.reference}").json()
    assert same(item["geometry"]["coordinates"], PUBLIC)


def around(point: Point, d: float = 0.000004) -> str:
    return f"{point.x - d},{point.y - d},{point.x + d},{point.y + d}"


def test_ogc_bbox_tests_the_public_point_not_the_exact_one(client, sign):
    url = "/ogcapi/collections/signalements/items"
    assert client.get(url, {"bbox": around(EXACT)}).json()["numberMatched"] == 0
    assert client.get(url, {"bbox": around(PUBLIC)}).json()["numberMatched"] == 1


def test_ogc_gives_a_home_report_without_geometry_and_never_in_a_bbox(client, home):
    url = "/ogcapi/collections/signalements/items"
    (feature,) = client.get(url).json()["features"]
    assert feature["geometry"] is None and feature["properties"]["commune"] == "Libercourt"
    assert client.get(url, {"bbox": CAHC}).json()["numberMatched"] == 0
    item = client.get(f"{url}/{home.reference}").json()
    assert item["geometry"] is None
    text = json.dumps(item)
    assert HOME_ADDRESS not in text and HOME_TEXT not in text


# --- The public map ---------------------------------------------------------------------------


@pytest.mark.parametrize("zoom", [12, 16, 17, 22])
def test_the_map_gives_the_snapped_point_at_every_zoom(client, sign, zoom):
    body = client.get("/api/reports/map/", {"bbox": CAHC, "zoom": zoom}).json()
    (feature,) = body["features"]
    assert feature["properties"]["count"] == 1
    assert same(feature["geometry"]["coordinates"], PUBLIC)


def test_the_map_viewport_tests_the_public_point(client, sign):
    def matched(bbox):
        return client.get("/api/reports/map/", {"bbox": bbox, "zoom": 22}).json()["numberMatched"]

    assert matched(around(EXACT)) == 0
    assert matched(around(PUBLIC)) == 1


@pytest.mark.parametrize("zoom", [10, 14, 17])
def test_a_home_report_is_neither_a_point_nor_in_a_cluster(client, home, sign, zoom):
    body = client.get("/api/reports/map/", {"bbox": CAHC, "zoom": zoom}).json()
    assert body["numberMatched"] == 1  # the road sign only
    assert home.reference not in json.dumps(body)


# --- The report API ---------------------------------------------------------------------------


def api(client, report, key=""):
    url = f"/api/reports/{report.reference}/" + (f"?cle={key}" if key else "")
    response = client.get(url)
    assert response.status_code == 200
    return response.json()


def test_the_report_api_gives_the_public_point_to_the_public_only(client, demo, sign):
    public = api(client, sign)["location"]
    assert same((public["lon"], public["lat"]), PUBLIC)
    exact = api(client, sign, key=sign.access_key)["location"]
    assert same((exact["lon"], exact["lat"]), EXACT)
    client.force_login(demo.agent)  # Libercourt's roads: handles it
    handled = api(client, sign)["location"]
    assert same((handled["lon"], handled["lat"]), EXACT)
    client.force_login(demo.reception_agent)  # same town, not the service handling it
    other = api(client, sign)["location"]
    assert same((other["lon"], other["lat"]), PUBLIC)


def test_the_report_api_gives_a_home_report_the_commune_only(client, home):
    body = api(client, home)
    assert body["location"] is None and body["commune"] == "Libercourt"
    assert body["address_label"] == "" and body["description"] == "" and body["photos"] == []
    assert HOME_ADDRESS not in json.dumps(body)
    mine = api(client, home, key=home.access_key)
    assert same((mine["location"]["lon"], mine["location"]["lat"]), EXACT)
    assert mine["address_label"] == HOME_ADDRESS and mine["description"] == HOME_TEXT
    assert len(mine["photos"]) == 1 and mine["photos"][0]["url"].endswith(home.access_key)


# --- Pages: the tracking page, its photos, the public list ----------------------------------


def test_the_tracking_page_of_a_home_report_shows_its_place_to_its_author_only(client, home):
    url = reverse("reports:detail", args=[home.reference])
    public = client.get(url).content.decode()
    assert HOME_ADDRESS not in public and HOME_TEXT not in public and "Libercourt" in public
    assert "concerne un domicile" in public and "/photos/" not in public
    own = client.get(f"{url}?cle={home.access_key}").content.decode()
    assert HOME_ADDRESS in own and HOME_TEXT in own and "/photos/" in own


def test_the_photos_of_a_home_report_are_not_public(client, home):
    photo = home.photos.get()
    url = reverse("reports:photo", args=[home.reference, photo.name])
    assert client.get(url).status_code == 404
    response = client.get(f"{url}?cle={home.access_key}")
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"


def test_the_public_list_names_the_commune_of_a_home_report_not_its_address(client, home, sign):
    html = client.get(reverse("reports:list")).content.decode()
    assert home.reference in html and HOME_ADDRESS not in html
    assert "3 rue Victor Hugo" in html  # the road sign's address stays


# --- The journey's "already reported here" ---------------------------------------------------


def test_already_reported_here_measures_from_the_public_point(categories, sign):
    (found,) = open_reports_near(categories["signalisation"], lon=EXACT.x, lat=EXACT.y)
    distance = EXACT.transform(2154, clone=True).distance(PUBLIC.transform(2154, clone=True))
    assert found["reference"] == sign.reference and found["distance_m"] == round(distance)
    assert found["distance_m"] > 0  # standing on the exact point does not say so


def test_already_reported_here_lists_no_home_report(categories, home):
    near = open_reports_near(categories["animaux-nuisibles"], lon=EXACT.x, lat=EXACT.y)
    assert near == []


# --- The public heatmap -------------------------------------------------------------------------


@pytest.fixture
def five_homes(make_report):
    return [
        make_report("animaux-nuisibles", location=Point(EXACT.x + i * 1e-5, EXACT.y, srid=4326))
        for i in range(5)
    ]


def heat_total(client, zoom):
    bbox = "2.99,50.47,3.03,50.49"
    return client.get("/api/stats/heatmap", {"bbox": bbox, "zoom": zoom}).json()["total"]


@pytest.mark.parametrize("zoom", [12, 16])  # the maintained cells, the cells from the points
def test_the_public_heatmap_counts_no_home_report(client, demo, five_homes, zoom):
    assert heat_total(client, zoom) == 0  # five in one cell: k is reached, yet not shown
    client.force_login(demo.superuser)
    assert heat_total(client, zoom) == 5  # staff count them


def test_a_category_made_public_again_joins_the_public_heatmap(client, categories, five_homes):
    category = categories["animaux-nuisibles"]
    category.public_position = "approximate"
    category.save(update_fields=["public_position"])
    assert heat_total(client, 12) == 5
    category.public_position = "hidden"
    category.save(update_fields=["public_position"])
    assert heat_total(client, 12) == 0
