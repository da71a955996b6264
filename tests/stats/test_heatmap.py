"""Heatmaps: cells sum to the filtered total, cells under k suppressed for the public, the
aggregates kept exact by the trigger (compared with a rebuild), scopes by role."""

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from tracking.models import CitizenRequest
from tracking.services import request_set_status

pytestmark = pytest.mark.django_db

URL = "/api/stats/heatmap"
CAHC = "2.85,50.35,3.10,50.53"


@pytest.fixture
def spots(make_report):
    """Six road signs on one spot, three others 1 km away, two water leaks (the CAHC's)."""
    here = [
        make_report("signalisation", location=Point(3.0105, 50.4804, srid=4326)) for _ in range(6)
    ]
    there = [
        make_report("signalisation", location=Point(3.0105, 50.4894, srid=4326)) for _ in range(3)
    ]
    water = [make_report("fuite-eau", location=Point(3.0105, 50.4804, srid=4326)) for _ in range(2)]
    return here, there, water


def cells(client, **params):
    response = client.get(URL, {"bbox": CAHC, "zoom": 14, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    return body, sorted(f["properties"]["count"] for f in body["features"])


def aggregates():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT level, month, ix, iy, dim, value, n "
            "FROM stats_heatcell WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5, 6"
        )
        return cursor.fetchall()


def test_staff_cells_sum_to_the_filtered_total(client, spots, demo):
    client.force_login(demo.superuser)
    body, counts = cells(client)
    assert counts == [3, 8] and body["total"] == 11  # the leaks share the signs' cell
    _, counts = cells(client, category="signalisation")
    assert sum(counts) == 9
    _, counts = cells(client, category="fuite-eau")
    assert counts == [2]


def test_the_public_sees_only_cells_of_at_least_k(client, spots):
    body, counts = cells(client)
    assert counts == [8] and body["suppressedCells"] == 1  # the 3-report cell is hidden
    _, counts = cells(client, category="fuite-eau")
    assert counts == []  # 2 < 5


def test_the_trigger_keeps_the_aggregates_exact(spots, demo):
    here, there, _ = spots
    request_set_status(here[0], status="planned", message="Mardi.", actor=demo.agent)
    CitizenRequest.objects.filter(pk=there[0].pk).update(location=Point(700000, 7045000, srid=2154))
    CitizenRequest.objects.filter(pk=there[1].pk).delete()
    maintained = aggregates()
    with connection.cursor() as cursor:
        cursor.execute("SELECT stats_heat_rebuild()")
    assert maintained == aggregates()


def test_status_filter_and_scope(client, spots, demo):
    here, _, _ = spots
    request_set_status(here[0], status="resolved", message="Fait.", actor=demo.agent)
    client.force_login(demo.superuser)
    _, counts = cells(client, status="resolved")
    assert counts == [1]
    client.force_login(demo.agent)  # Libercourt: its signs, not the CAHC's leaks
    _, counts = cells(client)
    assert counts == [3, 6]


def test_cells_get_bigger_as_you_zoom_out(client, spots, demo):
    client.force_login(demo.superuser)
    body, counts = cells(client, zoom=10)
    assert body["cellMetres"] == 3200 and sum(counts) == 11
    width = (
        body["features"][0]["geometry"]["coordinates"][0][2][0]
        - body["features"][0]["geometry"]["coordinates"][0][0][0]
    )
    assert 0.04 < width < 0.05  # 3.2 km of longitude at 50.5° N
    body, _ = cells(client, zoom=17)
    assert body["cellMetres"] == 25


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"zoom": 14}, "bbox"),
        ({"bbox": CAHC, "zoom": "x"}, "zoom"),
        ({"bbox": CAHC, "zoom": 14, "channel": "web"}, "channel"),
        ({"bbox": CAHC, "zoom": 14, "category": "inconnue"}, "category"),
        ({"bbox": CAHC, "zoom": 14, "since": "hier"}, "since"),
    ],
)
def test_bad_parameters(client, db, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400 and field in response.json()


def test_the_public_statistics_page_hides_communes_under_k(client, spots):
    html = client.get("/statistiques/publiques/").content.decode()
    assert '<th scope="row">Libercourt</th><td>11</td>' in html
    for report in CitizenRequest.objects.all()[:7]:
        report.delete()
    html = client.get("/statistiques/publiques/").content.decode()
    assert '<th scope="row">Libercourt</th><td>moins de 5</td>' in html


def test_aggregates_and_points_give_the_same_cells(client, spots, demo):
    """One filter: the aggregates answer; two filters or fine cells: the points do. The same
    requests give the same counts either way."""
    client.force_login(demo.superuser)
    one, counts_one = cells(client, category="signalisation")
    assert one["source"] == "aggregates"
    two, counts_two = cells(client, category="signalisation", status="received")
    assert two["source"] == "points" and counts_two == counts_one == [3, 6]
    fine, _ = cells(client, zoom=16)
    assert fine["source"] == "points"
