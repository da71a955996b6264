"""GET /api/routing/preview: what the report form shows before sending; bad input is a 400."""

import pytest

from gis_layers.models import Feature
from gis_layers.services import demo_layers_load
from routing.services import categories_load

pytestmark = pytest.mark.django_db
URL = "/api/routing/preview"


@pytest.fixture
def catalogue(demo):
    categories_load()


def test_preview_names_the_service_with_its_contact(
    client, catalogue, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):  # category, decision, service card
        body = client.get(
            URL, {"lon": 3.01054, "lat": 50.480422, "category": "lampadaire-eteint"}
        ).json()
    assert body["status"] == "routed"
    assert body["service"]["name"] == "Éclairage public"
    assert body["service"]["opening_hours"].startswith("du lundi au vendredi")
    assert body["organisation"] == "Ville de Libercourt"
    assert {k: v for k, v in body["commune"].items() if k != "id"} == {
        "insee": "62907",
        "name": "Libercourt",
        "member": True,
    }
    assert [step["step"] for step in body["trace"]] == ["territoire", "compétence", "service"]


def test_preview_with_a_cahc_glass_point_picked_in_libercourt(client, demo):
    demo_layers_load()
    categories_load()
    glass = Feature.objects.filter(layer__slug="bornes-verre").order_by("ref").first()
    x, y = glass.geom.transform(4326, clone=True).coords
    body = client.get(
        URL, {"lon": x, "lat": y, "category": "borne-verre-pleine", "equipment": glass.pk}
    ).json()
    assert body["service"]["name"] == "Collecte des déchets"
    assert body["equipment"]["ref"] == glass.ref and body["equipment"]["distance_m"] < 0.5
    # A streetlight is not something a glass-bank category accepts.
    light = Feature.objects.filter(layer__slug="eclairage-public").first()
    response = client.get(
        URL, {"lon": x, "lat": y, "category": "borne-verre-pleine", "equipment": light.pk}
    )
    assert response.status_code == 400 and "ne relève pas" in response.json()["equipment"]


def test_preview_outside_the_territory_is_a_clear_answer(client, catalogue):
    body = client.get(URL, {"lon": 3.0225, "lat": 50.5135, "category": "nid-de-poule"}).json()
    assert (
        body["status"] == "outside" and "Phalempin" in body["message"] and body["service"] is None
    )


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"lat": "50.48", "category": "nid-de-poule"}, "lon", "obligatoire"),
        ({"lon": "abc", "lat": "50.48", "category": "nid-de-poule"}, "lon", "nombre"),
        ({"lon": "nan", "lat": "50.48", "category": "nid-de-poule"}, "lon", "compris entre"),
        ({"lon": "3.01", "lat": "95", "category": "nid-de-poule"}, "lat", "compris entre"),
        ({"lon": "3.01", "lat": "50.48", "category": "piscine"}, "category", "inconnue"),
        ({"lon": "3.01", "lat": "50.48"}, "category", "inconnue"),
        (
            {"lon": "3.01", "lat": "50.48", "category": "nid-de-poule", "equipment": "1;drop"},
            "equipment",
            "invalide",
        ),
        (
            {"lon": "3.01", "lat": "50.48", "category": "nid-de-poule", "equipment": "999999999"},
            "equipment",
            "inconnu",
        ),
    ],
)
def test_bad_input_gets_a_400_with_the_reason(client, catalogue, params, field, fragment):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert fragment in str(response.json()[field])


def test_preview_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/routing/preview" in schema.content.decode()
