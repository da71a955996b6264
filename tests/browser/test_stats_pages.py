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
