import datetime as dt

import pytest


@pytest.fixture(autouse=True)
def _open_data_dir(settings, tmp_path):
    """Each test builds (or not) its own open-data files."""
    settings.GRC_OPEN_DATA_DIR = tmp_path / "open-data"


@pytest.fixture
def known(make_report, demo):
    """Five reports: three roads signs (Libercourt), two water leaks (CAHC).

    Closed ones: sign A in 2 days, sign B in 40 days (target 30), leak C in 0.5 day (target 1).
    """
    from django.utils import timezone

    from tracking.models import CitizenRequest
    from tracking.services import request_set_status

    now = timezone.now()
    made = [make_report("signalisation", contact_email=f"s{i}@example.org") for i in range(3)]
    made += [make_report("fuite-eau", contact_email=f"e{i}@example.org") for i in range(2)]
    a, b, _c, leak, _leak2 = made
    for report, days, actor in (
        (a, 2, demo.agent),
        (b, 40, demo.agent),
        (leak, 0.5, demo.cahc_admin),
    ):
        request_set_status(report, status="resolved", message="Fait.", actor=actor)
        created = now - dt.timedelta(days=days)
        CitizenRequest.objects.filter(pk=report.pk).update(created_at=created, closed_at=now)
    CitizenRequest.objects.filter(pk=_c.pk).update(created_at=now - dt.timedelta(days=45))
    CitizenRequest.objects.filter(pk=made[4].pk).update(channel="api")
    return made
