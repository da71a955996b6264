"""Reports as one more OGC API collection: public fields, paging, bbox, hidden excluded."""

import json

import pytest
from django.contrib.gis.geos import Point

from reports.models import Report

pytestmark = pytest.mark.django_db

BASE = "/ogcapi/collections/signalements"


@pytest.fixture
def reports(make_report):
    return [
        make_report(
            "signalisation",
            location=Point(3.0105 + i * 0.001, 50.4804, srid=4326),
            contact_email=f"p{i}@example.org",
            contact_phone="0612345678",
        )
        for i in range(5)
    ]


def test_listed_among_the_collections(client, db):
    body = client.get("/ogcapi/collections").json()
    ours = next(c for c in body["collections"] if c["id"] == "signalements")
    assert ours["itemType"] == "feature" and any(link["rel"] == "items" for link in ours["links"])
    assert client.get(BASE).json()["title"] == "Signalements des habitants"


def test_items_page_with_public_fields_only(client, reports, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get(f"{BASE}/items", {"limit": 2})
    assert response["Content-Type"] == "application/geo+json"
    body = response.json()
    assert body["numberMatched"] == 5 and body["numberReturned"] == 2
    assert [link["rel"] for link in body["links"]][:2] == ["self", "next"]
    props = body["features"][0]["properties"]
    assert set(props) == {
        "reference",
        "category",
        "category_name",
        "status",
        "created_at",
        "closed_at",
        "commune",
        "service",
    }
    text = json.dumps(body)
    for private in ("example.org", "0612345678", "Un trou profond"):
        assert private not in text
    second = client.get(body["links"][1]["href"]).json()
    assert second["numberReturned"] == 2
    assert {f["id"] for f in second["features"]}.isdisjoint({f["id"] for f in body["features"]})


def test_bbox_hidden_and_single_item(client, reports):
    Report.objects.filter(pk=reports[0].pk).update(is_hidden=True)
    body = client.get(f"{BASE}/items").json()
    assert body["numberMatched"] == 4
    assert reports[0].reference not in json.dumps(body)
    near = client.get(f"{BASE}/items", {"bbox": "3.0130,50.4800,3.0140,50.4810"}).json()
    assert [f["id"] for f in near["features"]] == [reports[3].reference]
    item = client.get(f"{BASE}/items/{reports[1].reference}").json()
    assert item["id"] == reports[1].reference and item["geometry"]["type"] == "Point"
    assert client.get(f"{BASE}/items/{reports[0].reference}").status_code == 404  # hidden
    assert client.get(f"{BASE}/items", {"bbox": "3,50,2,51"}).status_code == 400
