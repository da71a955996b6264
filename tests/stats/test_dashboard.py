"""Dashboard figures on a small known dataset, computed by hand here; scopes by role."""

import dataclasses
import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from stats.selectors import dashboard
from tracking.filters import RequestFilters
from tracking.models import CitizenRequest
from tracking.services import request_set_status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("source", ["counts", "requests"])
def test_counts_times_and_backlog_by_hand(known, demo, source):
    d = dashboard(None, filters=RequestFilters(), source=source)
    assert d.source == source
    assert d.total == 5 and d.open == 2
    assert dict(d.by_status) == {"Résolu": 3, "Reçu": 2}
    assert dict(d.by_channel) == {"site web": 4, "API": 1}
    signs = next(t for t in d.times if t["target"] == 30)  # the road signs
    assert signs["closed"] == 2 and signs["median"] == 21.0  # (2 + 40) / 2
    assert signs["p90"] == pytest.approx(36.2, abs=0.1)  # 2 + 0.9 × 38
    assert signs["within"] == 50  # 2 days within 30, 40 days not
    water = next(t for t in d.times if t["target"] == 1)
    assert water["closed"] == 1 and water["median"] == 0.5 and water["within"] == 100
    assert d.closed_within_target == 67  # 2 of 3
    assert dict(d.backlog) == {
        "moins de 7 jours": 1,
        "7 à 30 jours": 0,
        "30 à 90 jours": 1,
        "plus de 90 jours": 0,
    }
    assert d.online_share == 100  # web and API are both online
    assert d.trips_avoided == 5 and d.sheets_avoided == 15


def total_card(html: str) -> int:
    """The first figure of the page: the number of requests."""
    return int(re.search(r'<p class="kpi">(\d+)</p>', html).group(1))


def commune_row(html: str, name: str) -> list[str]:
    """The cells of a commune's row in the table beside the map."""
    row = re.search(rf'<th scope="row">{name}</th>(.*?)</tr>', html).group(1)
    return re.findall(r"<td>(.*?)</td>", row)


def test_scopes_follow_the_roles(client, known, demo):
    client.force_login(demo.agent)  # Libercourt: its three signs
    assert total_card(client.get("/statistiques/").content.decode()) == 3
    client.force_login(demo.cahc_agent)  # the CAHC: its own requests (its two leaks)
    assert total_card(client.get("/statistiques/").content.decode()) == 2
    client.force_login(demo.citizen)
    assert client.get("/statistiques/").status_code == 403


def test_every_chart_has_its_table_and_filters_apply(client, known, demo):
    client.force_login(demo.superuser)
    html = client.get("/statistiques/", {"category": "fuite-eau"}).content.decode()
    assert html.count("<svg") == html.count("(données du graphique)") >= 5
    assert total_card(html) == 2  # the two leaks (2 requests are also open: not that card)
    assert commune_row(html, "Libercourt")[1] == "2"  # the table beside the map agrees
    assert "Hypothèses" in html


def test_the_default_period_and_the_export_link_say_the_same(client, known, demo):
    """Twelve months by default, and the export link carries them (not all time)."""
    from stats.selectors import first_of_12_months

    CitizenRequest.objects.filter(pk=known[1].pk).update(
        created_at=timezone.now() - dt.timedelta(days=800)
    )
    client.force_login(demo.superuser)
    html = client.get("/statistiques/").content.decode()
    start = first_of_12_months(timezone.localdate()).isoformat()
    assert total_card(html) == 4 and f'value="{start}"' in html
    assert f"/statistiques/exports/?since={start}" in html
    everything = client.get("/statistiques/", {"since": ""}).content.decode()
    assert total_card(everything) == 5  # an emptied "Du" field: all time
    assert 'href="/statistiques/exports/?since="' in everything  # all time there too


def test_a_period_cut_inside_a_month_is_counted_to_the_day(client, known, demo):
    """The commune table counts exactly the page's days (the map states whole months)."""
    client.force_login(demo.superuser)
    today = timezone.localdate()
    html = client.get(
        "/statistiques/", {"since": (today - dt.timedelta(days=10)).isoformat()}
    ).content.decode()
    assert total_card(html) == 3
    assert commune_row(html, "Libercourt")[1] == "3"


def test_bad_filters_are_named_and_the_default_figures_shown(client, known, demo):
    client.force_login(demo.superuser)
    html = client.get("/statistiques/", {"since": "hier"}).content.decode()
    assert 'role="alert">Du : Une date AAAA-MM-JJ.' in html
    assert total_card(html) == 5  # the last twelve months, not an empty page
    html = client.get("/statistiques/", {"category": "licorne"}).content.decode()
    assert "Problème : Problème inconnu : licorne." in html
    html = client.get("/statistiques/", {"heat": "equipment"}).content.decode()
    assert "Carte de chaleur : Ces problèmes ne portent sur aucune couche" in html
    assert 'data-mode=""' in html  # the map falls back to plain counts
    html = client.get(
        "/statistiques/", {"heat": "equipment", "category": "fuite-eau"}
    ).content.decode()
    assert "aucune couche" in html
    html = client.get("/statistiques/", {"compare_since": "2025-01-01"}).content.decode()
    assert "Comparer avec la période du : Une période de comparaison a un début et une fin." in (
        html
    )


def month_counts() -> list[tuple]:
    from stats.models import MonthCount

    fields = ("month", "organisation_id", "service_id", "dim", "value", "n")
    return list(MonthCount.objects.exclude(n=0).order_by(*fields[:5]).values_list(*fields))


def test_monthly_counts_stay_exact(known, demo):
    """The trigger keeps stats_monthcount equal to a rebuild from scratch through a status
    change, a transfer to another service, a new channel, a date change and a deletion."""
    a, _b, c, leak, _ = known
    request_set_status(c, status="planned", message="Lundi.", actor=demo.agent)
    CitizenRequest.objects.filter(pk=a.pk).update(service=leak.service, channel="api")
    CitizenRequest.objects.filter(pk=c.pk).update(
        created_at=timezone.now() - dt.timedelta(days=400)
    )
    CitizenRequest.objects.filter(pk=leak.pk).delete()
    maintained = month_counts()
    assert sum(n for *_, dim, _v, n in maintained if dim == "all") == 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT stats_month_rebuild()")
    assert maintained == month_counts()


def test_both_sources_agree_for_a_service_and_whole_months(known, demo):
    """A service's own dashboard over whole months: the monthly counts and the requests give
    the same figures; a period cut inside a month is counted from the requests."""
    today = timezone.localdate()
    months = RequestFilters(since=(today - dt.timedelta(days=70)).replace(day=1), until=None)
    service = RequestFilters(services=(known[0].service_id,))
    for filters in (months, service, RequestFilters()):
        by_counts = dashboard(None, filters=filters, source="counts")
        by_requests = dashboard(None, filters=filters, source="requests")
        assert by_counts == dataclasses.replace(by_requests, source="counts")
    assert dashboard(None, filters=service).source == "counts"
    assert dashboard(None, filters=service).total == 3  # the Libercourt signs' service
    cut = RequestFilters(since=today - dt.timedelta(days=10))
    assert dashboard(None, filters=cut).total == 3  # two made today, the leak of 0.5 day
    # a period cut inside months: its whole months from the counts, the partial first and
    # last months from the requests, the same figures as the requests alone
    for filters in (
        cut,
        RequestFilters(since=today - dt.timedelta(days=50), until=today - dt.timedelta(days=1)),
        RequestFilters(since=today - dt.timedelta(days=100)),
        RequestFilters(until=today - dt.timedelta(days=3)),
        RequestFilters(since=today - dt.timedelta(days=3), until=today),
    ):
        mixed = dashboard(None, filters=filters)
        by_requests = dashboard(None, filters=filters, source="requests")
        assert mixed.source in ("counts", "counts+requests", "requests")
        assert mixed == dataclasses.replace(by_requests, source=mixed.source), filters
    assert dashboard(None, filters=cut).source in ("counts+requests", "requests")
    with pytest.raises(ValueError):
        dashboard(None, filters=cut, source="counts")
    scoped = dashboard(frozenset({demo.libercourt.pk}), filters=RequestFilters())
    assert scoped.source == "counts" and scoped.total == 3


def test_a_time_zone_other_than_the_aggregates_one_is_a_system_error(settings):
    from stats.checks import aggregates_time_zone

    assert aggregates_time_zone() == []
    settings.TIME_ZONE = "UTC"
    errors = aggregates_time_zone()
    assert [e.id for e in errors] == ["stats.E001"] and "Europe/Paris" in errors[0].msg


def test_the_table_per_commune_of_a_cut_period_adds_the_edges_to_the_months(known, demo):
    """The dashboard's table per commune over a period cut inside months: the whole months from
    the monthly counts, the partial first and last months from the requests, the same counts
    as the requests alone (it used to count every request of the period: ~290 ms on a million);
    and a scope keeps its own requests only."""
    from stats.selectors import Audience, commune_rates

    today = timezone.localdate()
    staff = Audience(None, 1, public=False)
    periods = (
        RequestFilters(since=today - dt.timedelta(days=10)),
        RequestFilters(since=today - dt.timedelta(days=50), until=today - dt.timedelta(days=1)),
        RequestFilters(since=today - dt.timedelta(days=100)),
        RequestFilters(until=today - dt.timedelta(days=3)),
        RequestFilters(since=(today - dt.timedelta(days=70)).replace(day=15), until=today),
    )
    for filters in periods:
        mixed = {r.insee: r.count for r in commune_rates(filters=filters, audience=staff)}
        rows = commune_rates(filters=filters, audience=staff, source="requests")
        assert mixed == {r.insee: r.count for r in rows}, filters
    everything = commune_rates(filters=periods[2], audience=staff)
    assert sum(r.count or 0 for r in everything) == 5  # the five known reports
    cahc = Audience(frozenset({demo.cahc.pk}), 1, public=False)
    assert sum(r.count or 0 for r in commune_rates(filters=periods[2], audience=cahc)) == 2
