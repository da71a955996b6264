"""The manager's dashboard as each role sees it: one scope for the figures, the export rows and
the service filter; key figures first (overdue count linking to the reports), labelled charts
with their tables, requests per equipment across problems, French labels in the export."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from organisations.models import Service
from tracking.models import CitizenRequest
from tracking.services import request_set_status

from .test_dashboard import total_card
from .test_heatmap import signs_layer

pytestmark = pytest.mark.django_db


def kpi(html: str, label: str) -> str:
    """The figure of the key-figure card whose text starts with ``label``."""
    for card in re.findall(r'<li class="card[^"]*">(.*?)</li>', html, re.S):
        if re.search(rf"<p>{re.escape(label)}", card):
            return re.sub(r"<[^>]+>", "", re.search(r'<p class="kpi">(.*?)</p>', card).group(1))
    raise AssertionError(f"no card {label!r}")


def service_choices(html: str) -> set[int]:
    select = re.search(r'<select name="service" id="f-service">(.*?)</select>', html, re.S)
    return {int(v) for v in re.findall(r'<option value="(\d+)"', select.group(1))}


def export_rows(client, query: str) -> list[dict]:
    response = client.get(f"/statistiques/exports/?{query}&format=csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


@pytest.mark.parametrize(
    ("role", "organisations", "expected"),
    [
        ("cahc_admin", ["cahc"], 2),  # the CAHC's two leaks, not Libercourt's roads service
        ("cahc_agent", ["cahc"], 2),
        ("lib_admin", ["libercourt"], 3),
        ("manager", ["libercourt"], 3),  # a service manager of Libercourt's roads
        ("agent", ["libercourt"], 3),
        ("superuser", None, 5),
    ],
)
def test_figures_export_rows_and_service_choices_have_one_scope(
    client, known, demo, role, organisations, expected
):
    client.force_login(getattr(demo, role))
    html = client.get("/statistiques/", {"since": ""}).content.decode()
    assert total_card(html) == expected
    # the export behind "Exporter ces demandes" gives exactly the rows counted
    query = re.search(r'href="/statistiques/exports/\?([^"]*)"', html).group(1)
    rows = export_rows(client, query.replace("&amp;", "&"))
    assert len(rows) == expected
    # the service filter offers every service of that scope, and only those
    services = Service.objects.all()
    if organisations is not None:
        orgs = [getattr(demo, o).pk for o in organisations]
        services = services.filter(organisation_id__in=orgs)
        assert {r["Organisme"] for r in rows} == {getattr(demo, o).name for o in organisations}
    assert service_choices(html) == set(services.values_list("pk", flat=True))
    # each offered service narrows the same figures: together they count them all
    by_service = 0
    for pk in service_choices(html):
        page = client.get("/statistiques/", {"since": "", "service": pk}).content.decode()
        by_service += total_card(page)
    assert by_service == expected
    # and the heatmap counts the same requests
    heat = client.get("/api/stats/heatmap", {"bbox": "2.85,50.35,3.10,50.53", "zoom": 11})
    assert heat.json()["total"] == expected


def test_key_figures_come_first_and_the_overdue_count_links_to_the_reports(client, known, demo):
    """Open and past its due date: sign C (due yesterday); leak 2 is open but due tomorrow,
    sign B is past due but resolved."""
    now = timezone.now()
    _a, b, c, _leak, leak2 = known
    CitizenRequest.objects.filter(pk=c.pk).update(due_at=now - dt.timedelta(days=1))
    CitizenRequest.objects.filter(pk=b.pk).update(due_at=now - dt.timedelta(days=10))
    CitizenRequest.objects.filter(pk=leak2.pk).update(due_at=now + dt.timedelta(days=1))
    client.force_login(demo.superuser)
    html = client.get("/statistiques/", {"since": ""}).content.decode()
    # the figures before the filters, the filters folded
    assert html.index('id="key-figures"') < html.index('<details class="dashboard-filters">')
    assert kpi(html, "demandes reçues") == "5"
    assert kpi(html, "résolues") == "3"
    assert kpi(html, "taux de résolution") == "60 %"
    assert kpi(html, "délai médian") == "2,0 j"  # 0.5, 2 and 40 days
    assert kpi(html, "en retard").startswith("1 ")
    link = re.search(r'<a href="([^"]+)" id="overdue-link">', html).group(1).replace("&amp;", "&")
    listing = client.get(link)
    assert listing.status_code == 200  # a refused lookup would redirect to "?e=1"
    text = listing.content.decode()
    assert c.reference in text
    assert b.reference not in text and leak2.reference not in text and _a.reference not in text
    # a status filter: the link lists the open ones among the statuses chosen, as counted
    html = client.get("/statistiques/", {"since": "", "status": "received"}).content.decode()
    assert kpi(html, "en retard").startswith("1 ")
    link = re.search(r'<a href="([^"]+)" id="overdue-link">', html).group(1).replace("&amp;", "&")
    assert "status__in=received&" in link
    assert c.reference in client.get(link).content.decode()
    # a Libercourt agent: the same count for Libercourt, the CAHC's leaks are not counted
    client.force_login(demo.agent)
    html = client.get("/statistiques/", {"since": ""}).content.decode()
    assert kpi(html, "en retard").startswith("1 ")


def test_each_chart_is_labelled_and_has_its_table(client, known, demo):
    client.force_login(demo.superuser)
    html = client.get("/statistiques/", {"since": ""}).content.decode()
    charts = re.findall(r'<svg aria-hidden="true"[^>]*class="bars">(.*?)</svg>', html, re.S)
    assert len(charts) == 7 == html.count("(données du graphique)")
    status_chart = charts[0]
    labels = re.findall(r'<text[^>]*class="bar-label">(.*?)</text>', status_chart)
    values = re.findall(r'<text[^>]*class="bar-value">(.*?)</text>', status_chart)
    assert dict(zip(labels, values, strict=True)) == {"Résolu": "3", "Reçu": "2"}
    assert "<svg role=" not in html  # drawings are hidden; the tables are read


def test_requests_per_equipment_across_problems(client, make_report, demo, categories):
    """Any selection: two problems on two layers, grouped by equipment, each named by its
    code and its layer."""
    from gis_layers.models import Feature, Layer
    from gis_layers.services import layer_replace_features
    from reports.models import Report

    here = Point(3.0105, 50.4804, srid=4326)
    signs = signs_layer(demo, categories, [here])
    lights = Layer.objects.create(
        slug="lampadaires-test",
        name="Lampadaires",
        owner_organisation=demo.libercourt,
        geometry_type="Point",
    )
    layer_replace_features(
        layer=lights,
        rows=[(1, bytes(here.wkb), {"ref": "EP-0154"})],
        source_srid=4326,
        ref_field="ref",
    )
    categories["lampadaire-eteint"].layers.add(lights)
    sign_reports = [make_report("signalisation", location=here) for _ in range(2)]
    light_reports = [make_report("lampadaire-eteint", location=here) for _ in range(3)]
    Report.objects.filter(pk__in=[r.pk for r in sign_reports]).update(
        equipment=Feature.objects.get(layer=signs)
    )
    Report.objects.filter(pk__in=[r.pk for r in light_reports]).update(
        equipment=Feature.objects.get(layer=lights)
    )
    client.force_login(demo.superuser)
    for params in (
        {"heat": "equipment"},  # no problem chosen
        {"heat": "equipment", "category": "signalisation,lampadaire-eteint"},
    ):
        html = client.get("/statistiques/", {"since": "", **params}).content.decode()
        assert "Carte de chaleur :" not in html  # no error
        table = re.search(r'<table id="per-equipment">(.*?)</table>', html, re.S).group(1)
        rows = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td><td>(\d+)</td>', table)
        assert rows == [("EP-0154", "Lampadaires", "3"), ("P0", "Panneaux", "2")]
    heat = client.get(
        "/api/stats/heatmap",
        {"bbox": "2.85,50.35,3.10,50.53", "zoom": 14, "normalise": "equipment"},
    ).json()
    assert [f["properties"]["equipment"] for f in heat["features"]] == [2]  # both layers


def test_the_export_gives_french_labels_and_keeps_the_codes(client, make_report, demo):
    report = make_report("signalisation")
    request_set_status(report, status="planned", message="Lundi.", actor=demo.agent)
    client.force_login(demo.agent)
    (row,) = export_rows(client, "since=")
    assert row["État"] == "Intervention programmée" and row["Code état"] == "planned"
    assert row["Canal"] == "site web" and row["Code canal"] == "web"


def closed_times() -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM stats_closedtime ORDER BY request_id")
        return cursor.fetchall()


@pytest.mark.parametrize("ordered_from", [0, 10**9])  # read in order of duration, or sorted
def test_the_closed_times_stay_exact(known, demo, monkeypatch, ordered_from):
    """The trigger keeps stats_closedtime equal to a rebuild through a closing, a reopening, a
    transfer (service, organisation), a change of problem, a date change, an unchanged save
    and a deletion; the times read from it are those of the rows."""
    from django.db import connection

    from stats import selectors
    from stats.selectors import dashboard
    from tracking.filters import RequestFilters

    monkeypatch.setattr(selectors, "ORDERED_TIMES_FROM", ordered_from)

    a, b, c, leak, _ = known
    assert len(closed_times()) == 3
    request_set_status(c, status="resolved", message="Fait.", actor=demo.agent)
    request_set_status(a, status="in_progress", message="Repris.", actor=demo.agent)
    CitizenRequest.objects.filter(pk=b.pk).update(service=leak.service)
    CitizenRequest.objects.filter(pk=leak.pk).update(
        created_at=timezone.now() - dt.timedelta(days=3)
    )
    CitizenRequest.objects.filter(pk=c.pk).update(
        category=leak.category, organisation=leak.organisation
    )  # a change of problem and a transfer to another organisation

    def place_of_b():
        with connection.cursor() as cursor:
            cursor.execute("SELECT ctid::text FROM stats_closedtime WHERE request_id = %s", [b.pk])
            return cursor.fetchone()[0]

    before = place_of_b()
    CitizenRequest.objects.get(pk=b.pk).save()  # saved unchanged: its closed time stays
    assert place_of_b() == before  # not deleted and written again
    CitizenRequest.objects.filter(pk=a.pk).delete()
    maintained = closed_times()
    assert {(r[0], r[4]) for r in maintained} >= {(c.pk, leak.category_id)}
    with connection.cursor() as cursor:
        cursor.execute("SELECT stats_closed_rebuild()")
    assert maintained == closed_times() and len(maintained) == 3
    today = timezone.localdate()
    for filters in (
        RequestFilters(),
        RequestFilters(since=today - dt.timedelta(days=20)),
        RequestFilters(services=(leak.service_id,)),
        RequestFilters(categories=("signalisation",), until=today - dt.timedelta(days=1)),
    ):
        fast = dashboard(frozenset({demo.libercourt.pk, demo.cahc.pk}), filters=filters)
        rows = dashboard(
            frozenset({demo.libercourt.pk, demo.cahc.pk}), filters=filters, source="requests"
        )
        assert (fast.times, fast.median_days, fast.closed_within_target) == (
            rows.times,
            rows.median_days,
            rows.closed_within_target,
        )
        assert rows.times and rows.median_days is not None, filters  # something compared
