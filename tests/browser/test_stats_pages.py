"""The dashboard and the export page in Chromium: accessible (axe), no console error."""

import pytest

from .conftest import axe_violations
from .test_layers_browser import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_dashboard_and_exports_are_accessible(page, demo, make_report):
    make_report("signalisation")
    login(page, "admin@libercourt.demo")
    page.goto("/statistiques/")
    assert page.locator(".kpi").first.inner_text() == "1"
    assert axe_violations(page) == []
    page.goto("/statistiques/exports/")
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_public_statistics_page_draws_the_heatmap(page, demo, make_report):
    from django.contrib.gis.geos import Point

    for _ in range(5):
        make_report("signalisation", location=Point(3.0105, 50.4804, srid=4326))
    page.goto("/statistiques/publiques/")
    page.wait_for_selector("#heat-map[data-cells='1']", state="attached")
    assert axe_violations(page) == []
    assert page.console_errors == []
