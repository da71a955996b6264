"""The public map of reports: PostGIS clusters, filters, no personal data, nothing hidden."""

import json

import pytest
from django.contrib.gis.geos import Point

from reports.models import Report

pytestmark = pytest.mark.django_db

URL = "/api/reports/map/"
CAHC = "2.85,50.35,3.10,50.53"


@pytest.fixture
def reports(make_report):
    made = [  # six road signs 10 m apart in Libercourt
        make_report(
            "signalisation",
            location=Point(3.0105 + i * 0.00014, 50.4804, srid=4326),
            contact_email=f"p{i}@example.org",
            contact_phone="0612345678",
        )
        for i in range(6)
    ]
    made.append(make_report("fuite-eau", location=Point(3.0200, 50.4850, srid=4326)))
    return made


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/geo+json"
    return response.json()


def test_low_zoom_clusters_add_up_to_every_visible_report(client, reports):
    body = get(client, bbox=CAHC, zoom=11)
    assert body["numberMatched"] == 7
    assert sum(f["properties"]["count"] for f in body["features"]) == 7
    assert body["numberReturned"] < 7  # the six signs share a cell at zoom 11


def test_high_zoom_gives_each_report_with_public_fields_only(client, reports):
    body = get(client, bbox=CAHC, zoom=17)
    assert body["numberReturned"] == 7
    props = body["features"][0]["properties"]
    assert set(props) == {"count", "reference", "status", "category", "category_name", "created_at"}
    text = json.dumps(body)
    for private in ("example.org", "0612345678", "description", "Un trou"):
        assert private not in text


def test_filters_and_hidden_reports(client, reports):
    assert get(client, bbox=CAHC, zoom=17, category="fuite-eau")["numberMatched"] == 1
    Report.objects.filter(pk=reports[0].pk).update(status="resolved")
    assert get(client, bbox=CAHC, zoom=17, status="resolved")["numberMatched"] == 1
    Report.objects.filter(pk=reports[1].pk).update(is_hidden=True)
    body = get(client, bbox=CAHC, zoom=17)
    assert body["numberMatched"] == 6
    assert reports[1].reference not in json.dumps(body)
    assert get(client, bbox=CAHC, zoom=17, since="2999-01-01")["numberMatched"] == 0


def test_the_viewport_limits_what_is_counted(client, reports):
    body = get(client, bbox="3.0195,50.4845,3.0205,50.4855", zoom=17)
    assert body["numberMatched"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"zoom": "12"}, "bbox"),
        ({"bbox": "3,50,2,51", "zoom": "12"}, "bbox"),
        ({"bbox": "nan,50,3,51", "zoom": "12"}, "bbox"),
        ({"bbox": CAHC, "zoom": "99"}, "zoom"),
        ({"bbox": CAHC, "zoom": "12", "status": "perdu"}, "status"),
        ({"bbox": CAHC, "zoom": "12", "since": "hier"}, "since"),
        ({"bbox": CAHC, "zoom": "12", "since": "2026-02-01", "until": "2026-01-01"}, "since"),
    ],
)
def test_bad_parameters_are_explained(client, db, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400 and field in response.json()


def test_the_list_page_shows_the_same_reports_without_the_map(client, reports):
    Report.objects.filter(pk=reports[1].pk).update(is_hidden=True)
    html = client.get("/signalements/", {"category": "signalisation"}).content.decode()
    assert reports[0].reference in html and reports[1].reference not in html
    assert reports[6].reference not in html  # another category
    assert "example.org" not in html
    bad = client.get("/signalements/", {"status": "perdu"})
    assert (
        bad.status_code == 200
        and "État : Inconnu : perdu (attendu : received" in bad.content.decode()
    )


def test_map_and_list_cut_days_at_local_midnight(client, reports):
    """A report made at 00:30 in Paris on 11 March (23:30 UTC on the 10th) belongs to the
    11th on the map and in the list alike."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    made = dt.datetime(2026, 3, 11, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))
    Report.objects.filter(pk=reports[0].pk).update(created_at=made)
    ref = reports[0].reference
    for day, found in (("since", True), ("until", False)):
        params = {"since": "2026-03-11"} if day == "since" else {"until": "2026-03-10"}
        on_map = get(client, bbox=CAHC, zoom=17, **params)
        refs = {f["properties"].get("reference") for f in on_map["features"]}
        listed = client.get("/signalements/", params).content.decode()
        assert (ref in refs) is found and (ref in listed) is found, (day, refs)
