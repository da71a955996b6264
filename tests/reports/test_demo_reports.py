"""The demo's reports: through the real services, every status, idempotent, nobody mailable."""

from collections import Counter

import pytest

from reports.demo import PLAN, demo_reports_load
from reports.models import Report

pytestmark = pytest.mark.django_db


def test_demo_reports_are_made_once_through_the_services(demo):
    from addresses.services import demo_addresses_load
    from gis_layers.services import demo_layers_load
    from routing.services import categories_load

    demo_layers_load()
    categories_load()
    demo_addresses_load()
    assert demo_reports_load() == len(PLAN)
    assert demo_reports_load() == 0  # idempotent
    reports = Report.objects.all()
    assert Counter(r.status for r in reports) == Counter(PLAN)
    assert all(r.service_id and r.commune.insee == "62907" for r in reports)
    assert all(r.contact_email.endswith("@demo.invalid") for r in reports)
    assert all(r.events.filter(type="routed").exists() for r in reports)
    resolved = reports.filter(status="resolved").first()
    assert [e.type for e in resolved.events.order_by("at", "pk")][-2:] == ["status", "status"]
