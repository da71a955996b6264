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
SIGNS_HERE = [Point(3.0105 + i * 0.0001, 50.4804, srid=4326) for i in range(4)]  # spots' cell


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


def signs_layer(demo, categories, places, *, name="Panneaux", **layer):
    """A layer of road signs at these places (WGS84 points), linked to "signalisation"."""
    from gis_layers.models import Layer
    from gis_layers.services import layer_replace_features

    signs = Layer.objects.create(
        slug=f"panneaux-{len(places)}-{layer.get('visibility', 'public')}",
        name=name,
        owner_organisation=demo.libercourt,
        geometry_type="Point",
        **layer,
    )
    layer_replace_features(
        layer=signs,
        rows=[(i, bytes(p.wkb), {"ref": f"P{i}"}) for i, p in enumerate(places)],
        source_srid=4326,
        ref_field="ref",
    )
    categories["signalisation"].layers.add(signs)
    return signs


def aggregates():
    from stats.models import HeatCell

    return list(
        HeatCell.objects.exclude(n=0)
        .order_by("level", "month", "ix", "iy", "dim", "value")
        .values_list("level", "month", "ix", "iy", "dim", "value", "n")
    )


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


def test_emptying_the_requests_empties_the_aggregates(spots, demo):
    """A TRUNCATE fires no row trigger (Django's flush after a transactional test is one): the
    aggregates and the closed times are emptied with the requests, or later heatmaps and
    dashboards would count ghosts."""
    request_set_status(spots[0][0], status="resolved", message="Fait.", actor=demo.agent)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM stats_heatcell) > 0"
            " AND (SELECT count(*) FROM stats_closedtime) = 1"
        )
        assert cursor.fetchone()[0]
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own pending checks
        cursor.execute("TRUNCATE tracking_citizenrequest CASCADE")
        cursor.execute(
            "SELECT (SELECT count(*) FROM stats_heatcell) + (SELECT count(*) FROM stats_monthcount)"
            " + (SELECT count(*) FROM stats_closedtime)"
        )
        assert cursor.fetchone()[0] == 0


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
    near = client.get(URL, {"bbox": "3.005,50.478,3.015,50.483", "zoom": 17}).json()
    # street zooms: the finest maintained cells (200 m), not every point snapped
    assert near["cellMetres"] == 200 and near["source"] == "aggregates"
    assert sum(f["properties"]["count"] for f in near["features"]) == 8
    combined = client.get(
        URL,
        {
            "bbox": "3.005,50.478,3.015,50.483",
            "zoom": 17,
            "category": "signalisation",
            "status": "received",
        },
    ).json()  # two filters: no single aggregate dimension, the points at 25 m
    assert combined["cellMetres"] == 25 and combined["source"] == "points"
    # the whole CAHC at zoom 17 would be 60,000 cells of 25 m snapped from every point:
    # the server takes larger cells, never more than 4,096 in the viewport
    body, counts = cells(client, zoom=17)
    assert body["cellMetres"] == 400 and body["source"] == "aggregates" and sum(counts) == 11


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"zoom": 14}, "bbox"),
        ({"bbox": CAHC, "zoom": "x"}, "zoom"),
        ({"bbox": CAHC}, "zoom"),
        ({"bbox": CAHC, "zoom": 14, "compare_since": "2025-01-01"}, "compare_since"),
        ({"bbox": CAHC, "zoom": 14, "normalise": "par-tete"}, "normalise"),
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
    fine = client.get(URL, {"bbox": "3.00,50.47,3.02,50.49", "zoom": 16}).json()
    assert fine["source"] == "aggregates" and fine["cellMetres"] == 200
    assert sorted(f["properties"]["count"] for f in fine["features"]) == [3, 8]
    fine_two = client.get(
        URL,
        {
            "bbox": "3.00,50.47,3.02,50.49",
            "zoom": 16,
            "category": "signalisation",
            "status": "received",
        },
    ).json()
    assert fine_two["source"] == "points" and fine_two["cellMetres"] == 50
    assert sorted(f["properties"]["count"] for f in fine_two["features"]) == [3, 6]


@pytest.mark.parametrize("public", [False, True])
def test_the_fast_path_gives_the_cells_counted_from_the_points_at_every_zoom(spots, demo, public):
    """Before and after: at zooms 8 to 17, every viewport's cells read from the maintained
    aggregates are exactly the cells counted from the request rows (same grid, same k)."""
    import datetime as dt

    from django.utils import timezone

    from gis_layers.selectors import BBox
    from stats.selectors import Audience, heatmap
    from tracking.filters import RequestFilters

    here, there, _water = spots
    CitizenRequest.objects.filter(pk=here[0].pk).update(
        created_at=timezone.now() - dt.timedelta(days=400)
    )
    request_set_status(there[0], status="resolved", message="Fait.", actor=demo.agent)
    audience = Audience(None, 5, True) if public else Audience(None, 1, False)
    month = timezone.localdate().replace(day=1)
    periods = (RequestFilters(), RequestFilters(since=month - dt.timedelta(days=200)))
    for zoom in range(8, 18):
        half = 0.4 / 2 ** (zoom - 8)
        bbox = BBox(3.0105 - half, 50.4804 - half / 1.6, 3.0105 + half, 50.4804 + half / 1.6)
        for filters in periods:
            fast = heatmap(bbox, zoom=zoom, filters=filters, audience=audience)
            slow = heatmap(bbox, zoom=zoom, filters=filters, audience=audience, source="points")
            assert fast.source == "aggregates" and slow.source == "points"
            assert (fast.level, fast.total, fast.cells, fast.features) == (
                slow.level,
                slow.total,
                slow.cells,
                slow.features,
            ), (zoom, filters)
            assert fast.total > 0


def test_two_periods_compared_cell_by_cell(client, spots, demo):
    """Three of the six signs moved back to last year: each cell gives both counts."""
    import datetime as dt

    from django.utils import timezone

    here, _, _ = spots
    a_year_ago = timezone.now() - dt.timedelta(days=365)
    CitizenRequest.objects.filter(pk__in=[r.pk for r in here[:3]]).update(created_at=a_year_ago)
    today = timezone.localdate()
    last = a_year_ago.date()
    client.force_login(demo.superuser)
    params = {
        "since": today.replace(day=1).isoformat(),
        "compare_since": last.replace(day=1).isoformat(),
        "compare_until": last.isoformat(),
    }
    for extra in ({}, {"category": "signalisation"}, {"status": "received", "service": ""}):
        body, _ = cells(client, **params, **extra)
        by_count = sorted(
            (f["properties"]["count"], f["properties"]["previous"], f["properties"]["change"])
            for f in body["features"]
        )
        if extra.get("category"):
            assert by_count == [(3, 0, 3), (3, 3, 0)]  # 3 signs now, 3 a year ago
        else:
            assert by_count == [(3, 0, 3), (5, 3, 2)]  # the leaks share the first cell
        assert body["total"] == sum(c for c, _, _ in by_count)
    # the public: a cell is withheld when either of its counts is under k
    client.logout()
    body, _ = cells(client, **params)
    assert body["features"] == [] and body["suppressedCells"] == 2
    bad = client.get(URL, {"bbox": CAHC, "zoom": 14, "compare_since": "2025-01-01"})
    assert bad.status_code == 400 and "compare_since" in bad.json()


def test_requests_per_equipment_of_the_category(client, spots, demo, categories):
    """Signs per road sign: four signs of a layer in the first cell, none in the second."""
    signs_layer(demo, categories, SIGNS_HERE)
    client.force_login(demo.superuser)
    body, _ = cells(client, category="signalisation", normalise="equipment")
    props = sorted((f["properties"] for f in body["features"]), key=lambda p: p["count"])
    assert props[0] == {"count": 3}  # no sign in that cell: no ratio
    assert props[1] == {"count": 6, "equipment": 4, "perEquipment": 1.5}
    # no problem chosen: the layers of every problem (here the one of the signs)
    every, _ = cells(client, normalise="equipment")
    assert {"count": 8, "equipment": 4, "perEquipment": 2.0} in [
        f["properties"] for f in every["features"]
    ]  # six signs and two leaks on the spot, four road signs
    no_layer = client.get(
        URL, {"bbox": CAHC, "zoom": 14, "normalise": "equipment", "category": "fuite-eau"}
    )
    assert no_layer.status_code == 400


def test_requests_per_1000_inhabitants_by_commune(client, spots, demo):
    from territory.models import Commune

    libercourt = Commune.objects.get(insee="62907")
    client.force_login(demo.superuser)
    body = client.get(URL, {"bbox": CAHC, "zoom": 11, "normalise": "inhabitants"}).json()
    assert len(body["features"]) == 14  # every commune of the CAHC, with or without requests
    by_insee = {f["properties"]["insee"]: f["properties"] for f in body["features"]}
    assert by_insee["62907"]["count"] == 11 and body["total"] == 11
    assert by_insee["62907"]["per1000"] == round(11 * 1000 / libercourt.population, 2)
    assert by_insee["62215"]["count"] == 0  # Carvin
    assert body["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    filtered = client.get(
        URL, {"bbox": CAHC, "zoom": 11, "normalise": "inhabitants", "category": "fuite-eau"}
    ).json()
    assert {f["properties"]["insee"]: f["properties"]["count"] for f in filtered["features"]}[
        "62907"
    ] == 2
    client.logout()  # the public: 11 is shown, a commune under k would not be
    public = client.get(
        URL, {"bbox": CAHC, "zoom": 11, "normalise": "inhabitants", "category": "fuite-eau"}
    ).json()
    lib = next(f["properties"] for f in public["features"] if f["properties"]["insee"] == "62907")
    assert lib["count"] is None and lib["per1000"] is None and public["suppressedCells"] == 1


def test_the_public_never_counts_a_hidden_report(client, spots, demo):
    """Hidden by moderation: gone from the public map, so gone from the public heatmap and
    from the public counts per commune (not from the staff's); the aggregates stay equal to
    a rebuild through hiding, showing and deleting."""
    from reports.models import Report

    here, _, _ = spots
    body, counts = cells(client)
    assert counts == [8]
    Report.objects.filter(pk__in=[r.pk for r in here[:4]]).update(is_hidden=True)
    body, counts = cells(client)
    assert counts == [] and body["suppressedCells"] == 2  # 4 and 3 left: both under 5
    public = client.get(URL, {"bbox": CAHC, "zoom": 11, "normalise": "inhabitants"}).json()
    lib = next(f["properties"] for f in public["features"] if f["properties"]["insee"] == "62907")
    assert lib["count"] == 7  # 11 requests, 4 hidden
    client.force_login(demo.superuser)
    _, counts = cells(client)
    assert counts == [3, 8]  # the staff count every request of their scope
    Report.objects.filter(pk=here[0].pk).update(is_hidden=False)
    Report.objects.filter(pk=here[1].pk).delete()
    maintained = aggregates()
    with connection.cursor() as cursor:
        cursor.execute("SELECT stats_heat_rebuild()")
    assert maintained == aggregates()
    public_rows = [row for row in maintained if row[4] == "public" and row[0] == 7]
    assert sum(row[6] for row in public_rows) == 8  # 10 left, 2 of them still hidden


def test_equipment_of_an_internal_layer_is_counted_for_staff_only(client, spots, demo, categories):
    from gis_layers.models import Layer

    signs_layer(
        demo,
        categories,
        [Point(3.0105, 50.4804, srid=4326)],
        name="Panneaux (interne)",
        visibility=Layer.Visibility.INTERNAL,
    )
    params = {"bbox": CAHC, "zoom": 14, "category": "signalisation", "normalise": "equipment"}
    refused = client.get(URL, params)
    assert refused.status_code == 400 and "couche" in refused.json()["normalise"][0]
    client.force_login(demo.agent)
    props = [f["properties"] for f in client.get(URL, params).json()["features"]]
    assert {"count": 6, "equipment": 1, "perEquipment": 6.0} in props


def test_the_heatmap_statement_is_prepared_and_answers_the_same(
    client, spots, django_assert_max_num_queries
):
    """Bound on the server (core.db): after psycopg's threshold the statement is prepared on
    the connection, and the prepared runs answer exactly what the first ones did."""
    first = client.get(URL, {"bbox": CAHC, "zoom": 14}).content
    for _ in range(6):
        with django_assert_max_num_queries(1):  # one statement, nothing per cell
            response = client.get(URL, {"bbox": CAHC, "zoom": 14})
        assert response.content == first
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%FROM stats_heatcell h%"],
        )
        assert cursor.fetchone()[0] == 1


def test_the_per_equipment_view_has_its_table_by_commune(client, spots, demo, categories):
    """The non-map path of "requests per equipment": per commune, the equipment of the
    problem's layers and the requests per equipment (9 signs reported in Libercourt on its 4
    signs: 2.25; Oignies has 2 signs and no report: 0)."""
    import re

    oignies = [Point(2.99389 + i * 0.0001, 50.46414, srid=4326) for i in range(2)]
    signs_layer(demo, categories, SIGNS_HERE + oignies)
    client.force_login(demo.superuser)
    html = client.get(
        "/statistiques/", {"category": "signalisation", "heat": "equipment", "since": ""}
    ).content.decode()
    assert "Demandes par équipement</th>" in html and "(Panneaux)" in html

    def row(name):
        match = re.search(rf'<th scope="row">{name}</th>(.*?)</tr>', html)
        return re.findall(r"<td>(.*?)</td>", match.group(1))

    # population, requests, per 1,000, equipment, per equipment (French decimals)
    assert row("Libercourt")[1:2] + row("Libercourt")[3:] == ["9", "4", "2,25"]
    assert row("Oignies")[1:] == ["0", "0,0", "2", "0,0"]
    assert row("Carvin")[3:] == ["0", "—"]  # no sign there: no ratio
    # without the view, no equipment column
    plain = client.get("/statistiques/", {"category": "signalisation", "since": ""})
    assert "Demandes par équipement</th>" not in plain.content.decode()


def test_the_bound_cursor_reads_timestamps_in_djangos_time_zone(db, monkeypatch):
    """When Django's time zone for the connection differs from the one its adapters were
    made with, the bound cursor registers it, as Django's own cursors do."""
    import zoneinfo

    from core.db import bound_cursor

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    from django.db import connections

    monkeypatch.setitem(connections["default"].__dict__, "timezone", paris)  # cached_property
    with connection.cursor() as plain:
        plain.execute("SELECT timestamptz '2026-07-01 12:00+00'")
        expected = plain.fetchone()[0]
    with bound_cursor() as cursor:
        cursor.execute("SELECT %(t)s::timestamptz", {"t": "2026-07-01 12:00+00"})
        got = cursor.fetchone()[0]
    assert expected.tzinfo == paris  # Django's cursor: 14:00 in Paris
    assert got == expected and got.tzinfo == paris
