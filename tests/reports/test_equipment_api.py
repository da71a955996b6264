"""Finding the equipment without the map: near a point, or by the plate's identifier."""

import pytest

from gis_layers.models import Feature, Layer
from gis_layers.services import demo_layers_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def layers(demo):
    demo_layers_load()
    from routing.services import categories_load

    categories_load()  # links the categories to the demo layers


def test_nearby_streetlights_nearest_first_with_distances(client, layers):
    light = Feature.objects.filter(layer__slug="eclairage-public").order_by("ref").first()
    point = light.geom.transform(4326, clone=True)
    body = client.get(
        "/api/equipment/",
        {"category": "lampadaire-eteint", "lon": point.x, "lat": point.y, "radius": 80},
    ).json()
    hits = body["results"]
    assert hits[0]["ref"] == light.ref and hits[0]["distance_m"] == 0
    assert [h["distance_m"] for h in hits] == sorted(h["distance_m"] for h in hits)
    assert all(h["layer"] == "eclairage-public" and h["distance_m"] <= 80 for h in hits)


def test_a_street_is_offered_at_its_point_nearest_to_the_citizen(client, layers):
    street = Feature.objects.filter(layer__slug="voirie").order_by("ref").first()
    mid = street.geom.interpolate(street.geom.length / 2).transform(4326, clone=True)
    hits = client.get(
        "/api/equipment/", {"category": "nid-de-poule", "lon": mid.x, "lat": mid.y}
    ).json()["results"]
    assert street.ref in [h["ref"] for h in hits]
    nearest = next(h for h in hits if h["ref"] == street.ref)
    assert nearest["distance_m"] < 1
    assert abs(nearest["lon"] - mid.x) < 1e-5 and abs(nearest["lat"] - mid.y) < 1e-5


@pytest.mark.parametrize("typed", ["EP-0042", "ep-0042", " ep 0042 ", "EP0042"])
def test_the_plate_identifier_finds_the_equipment(client, layers, typed):
    hits = client.get("/api/equipment/", {"category": "lampadaire-eteint", "ref": typed}).json()[
        "results"
    ]
    assert [h["ref"] for h in hits] == ["EP-0042"]
    assert hits[0]["distance_m"] is None


def test_internal_layers_are_never_offered(client, layers):
    Layer.objects.filter(slug="eclairage-public").update(visibility="internal")
    hits = client.get(
        "/api/equipment/", {"category": "lampadaire-eteint", "ref": "EP-0042"}
    ).json()["results"]
    assert hits == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "inconnue", "ref": "EP-1"}, "category"),
        ({"category": "lampadaire-eteint"}, "lon"),
        ({"category": "lampadaire-eteint", "lon": "3.01", "lat": "NaN"}, "lat"),
        (
            {"category": "lampadaire-eteint", "lon": "3.01", "lat": "50.48", "radius": "5000"},
            "radius",
        ),
    ],
)
def test_bad_parameters_are_explained(client, layers, params, field):
    response = client.get("/api/equipment/", params)
    assert response.status_code == 400 and field in response.json()
