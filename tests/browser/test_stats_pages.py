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
    page.wait_for_selector("#heat-map[data-cells='1']", state="attached")  # the staff see 1
    assert axe_violations(page) == []
    page.goto("/statistiques/exports/")
    assert axe_violations(page) == []
    assert page.console_errors == []


@pytest.mark.parametrize("width", [390, 1280])
def test_dashboard_figures_first_legend_and_no_sideways_scroll(page, demo, make_report, width):
    """The manager sees the key figures first, the filters folded, a legend under the map
    (classes with their counts of cells), and the page passes axe at phone and desk widths."""
    for _ in range(3):
        make_report("signalisation")
    page.set_viewport_size({"width": width, "height": 844 if width == 390 else 900})
    login(page, "admin@libercourt.demo")
    page.goto("/statistiques/")
    figures = page.locator("#key-figures")
    assert figures.locator(".kpi").first.inner_text() == "3"
    assert figures.bounding_box()["y"] < 844  # on the first screen
    assert not page.locator(".dashboard-filters").evaluate("d => d.open")  # folded
    page.wait_for_selector("#heat-map[data-cells='1']", state="attached")
    legend = page.locator("#heat-legend")
    assert legend.locator("li").count() == 5
    assert "3 : 1 zones" in legend.inner_text()  # the top class holds the one cell of 3
    assert page.evaluate("document.documentElement.scrollWidth") == width
    assert axe_violations(page) == []
    page.locator(".dashboard-filters summary").click()
    assert page.locator("#f-service").is_visible()
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


def test_dashboard_heatmap_per_inhabitants_and_compared(page, demo, make_report):
    """The manager switches the map to requests per 1,000 inhabitants, then compares with
    last year: the communes are drawn, the table beside the map gives the same figures."""
    import datetime as dt

    from django.utils import timezone

    from tracking.models import CitizenRequest

    made = [make_report("signalisation") for _ in range(3)]
    CitizenRequest.objects.filter(pk=made[0].pk).update(
        created_at=timezone.now() - dt.timedelta(days=400)
    )
    login(page, "admin@libercourt.demo")
    page.goto("/statistiques/")
    page.locator(".dashboard-filters summary").click()  # the filters are folded
    page.select_option("#f-heat", "inhabitants")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_selector("#heat-map[data-cells='14']", state="attached")
    row = page.locator("table tr", has=page.get_by_role("rowheader", name="Libercourt")).first
    assert row.locator("td").nth(1).inner_text() == "2"  # the last 12 months
    last_year = (timezone.localdate() - dt.timedelta(days=400)).replace(day=1)
    page.locator(".dashboard-filters summary").click()
    page.fill("#f-compare-since", last_year.isoformat())
    page.fill("#f-compare-until", (last_year + dt.timedelta(days=40)).isoformat())
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_selector("#heat-map[data-cells='14']", state="attached")
    row = page.locator("table tr", has=page.get_by_role("rowheader", name="Libercourt")).first
    assert [row.locator("td").nth(i).inner_text() for i in (1, 3, 4)] == ["2", "1", "+1"]
    assert axe_violations(page) == []
    assert page.console_errors == []
