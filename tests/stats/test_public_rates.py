"""Public statistics: resolution rate and delays, computed by PostgreSQL from the stored
requests, checked here against figures worked out by hand on known reports; the reports the
public may not see (hidden, held for moderation) never count, nor the duplicates and those sent
to another body, and a group under k is withheld."""

import datetime as dt

import pytest
from django.utils import timezone

from reports.models import Report
from stats.selectors import public_resolution_rates
from tracking.models import Status

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _set(report, *, made_days_ago: int, resolved_after: float | None = None, **fields):
    created = NOW - dt.timedelta(days=made_days_ago)
    closed = created + dt.timedelta(days=resolved_after) if resolved_after is not None else None
    Report.objects.filter(pk=report.pk).update(
        created_at=created,
        closed_at=closed,
        status=Status.RESOLVED if closed else fields.pop("status", Status.RECEIVED),
        **fields,
    )


@pytest.fixture
def known(make_report):
    """Eight road-sign reports (five counted) and two water leaks, all in Libercourt."""
    signs = [make_report("signalisation") for _ in range(8)]
    _set(signs[0], made_days_ago=100, resolved_after=10)
    _set(signs[1], made_days_ago=100, resolved_after=40)
    _set(signs[2], made_days_ago=60, resolved_after=20)
    _set(signs[3], made_days_ago=50)  # still open
    _set(signs[4], made_days_ago=5, resolved_after=2)  # too recent for the 30-day share
    _set(signs[5], made_days_ago=80, status=Status.DUPLICATE)  # not counted
    _set(signs[6], made_days_ago=90, resolved_after=1, is_hidden=True)  # moderated: not public
    _set(signs[7], made_days_ago=90, resolved_after=1, moderation_pending=True)  # held
    leaks = [make_report("fuite-eau") for _ in range(3)]
    _set(leaks[0], made_days_ago=40, resolved_after=5)
    _set(leaks[1], made_days_ago=40)
    _set(leaks[2], made_days_ago=40, status=Status.TRANSFERRED_OUT)  # another body's: not counted
    return signs, leaks


def test_rates_and_delays_by_hand(known):
    rates = public_resolution_rates(k=3, now=NOW)
    signs = next(r for r in rates.by_category if r.name == "Panneau ou marquage au sol abîmé")
    # counted: 10, 40, 20 days (resolved), one open, 2 days (resolved, made 5 days ago)
    assert (signs.reports, signs.resolved, signs.rate) == (5, 4, 80.0)
    assert signs.median_days == 15.0  # median of 2, 10, 20, 40
    assert (signs.eligible, signs.within) == (4, 50.0)  # 10 and 20 days of the four made >30 d ago
    leaks = next(r for r in rates.by_category if r.name.startswith("Fuite"))
    assert leaks.reports is None and leaks.rate is None  # two reports: under k, withheld whole
    libercourt = next(r for r in rates.by_commune if r.name == "Libercourt")
    # the seven counted: resolved after 10, 40, 20, 2 and 5 days, two open
    assert (libercourt.reports, libercourt.resolved, libercourt.rate) == (7, 5, 71.4)
    assert libercourt.median_days == 10.0
    assert (libercourt.eligible, libercourt.within) == (6, 50.0)  # 10, 20, 5 of six
    assert rates.total == libercourt.__class__(
        "", 7, 5, 71.4, 10.0, 6, 50.0
    )  # every report is in Libercourt


def test_a_report_hidden_later_leaves_the_figures(known):
    signs, _ = known
    Report.objects.filter(pk=signs[0].pk).update(is_hidden=True)
    rates = public_resolution_rates(k=3, now=NOW)
    assert (rates.total.reports, rates.total.resolved) == (6, 4)


def test_under_k_nothing_is_told(known):
    rates = public_resolution_rates(k=8, now=NOW)
    assert rates.total.reports is None and rates.total.median_days is None
    assert all(r.reports is None for r in rates.by_commune + rates.by_category)


def test_the_public_statistics_page_shows_rates_and_delays(client, known, settings):
    settings.GRC_HEATMAP_K = 3
    html = client.get("/statistiques/publiques/").content.decode()
    assert "71,4 % des 7 signalements sont résolus" in html
    assert "Délai médian de résolution : 10,0 jours." in html
    assert "50,0 % sont résolus en 30 jours ou moins." in html
    signs = '<th scope="row">Panneau ou marquage au sol abîmé</th>'
    row = html.split(signs, 1)[1].split("</tr>")[0]
    assert "<td>5</td>" in row and "80,0 % (4)" in row and "15,0 jours" in row and "50,0 %" in row
    leaks = html.split('<th scope="row">Fuite', 1)[1].split("</tr>")[0]
    assert "moins de 3 signalements" in leaks
