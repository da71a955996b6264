"""Every map draws our own communes and streets under its content with no basemap (the tests
run with BASEMAP=none): the public map, the heatmap, the admin's map widget and the tracking
page's map. The public map shows each status by its colour and shape with a legend in words,
and on a phone the map comes before the filters, folded behind a button. At 390 px."""

import pytest
from django.contrib.gis.geos import Point

from .conftest import axe_violations
from .test_layers_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TOWN_HALL = Point(3.01054, 50.480422, srid=4326)


@pytest.fixture
def town(demo, make_report):
    from gis_layers.services import demo_layers_load
    from routing.services import categories_load

    demo_layers_load()
    categories_load()
    return [make_report("signalisation", location=TOWN_HALL) for _ in range(5)]


def context_paths(page, map_selector: str) -> int:
    return page.locator(f"{map_selector} .leaflet-context-pane path").count()


def assert_communes_and_streets(page, map_selector: str, zoom_in: int = 0):
    """The 14 communes drawn first; then, at street zooms, the streets over them."""
    page.wait_for_selector(f"{map_selector}[data-context-communes='14']", state="attached")
    assert context_paths(page, map_selector) >= 14
    for _ in range(zoom_in):
        page.locator(f"{map_selector} .leaflet-control-zoom-in").click()
        page.wait_for_timeout(400)
    page.wait_for_selector(f"{map_selector}[data-context-streets]", state="attached")
    page.wait_for_function(
        "s => document.querySelectorAll(s + ' .leaflet-context-pane path').length > 14 + 20",
        arg=map_selector,
    )


def test_the_public_map_on_a_phone(page, town, make_report):
    for i in range(16):  # 300 m west: the list has two pages
        make_report("nid-de-poule", location=Point(3.0035 + i * 0.0002, 50.4795, srid=4326))
    page.set_viewport_size(PHONE)
    page.goto("/signalements/")
    page.wait_for_selector("#reports-map[data-reports='21']", state="attached")
    # the map first: the filters are folded behind one button, the map starts on screen
    toggle = page.locator("#filters-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("#filters-panel").is_hidden()
    assert page.locator("#reports-map").bounding_box()["y"] + 250 < PHONE["height"]
    toggle.click()
    assert page.locator("#f-status").is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    # the legend says each status in words, beside its drawn shape
    legend = page.locator(".status-legend")
    for label in ("Reçu", "Intervention programmée", "En cours de traitement", "Résolu"):
        assert legend.get_by_text(label, exact=True).is_visible()
    assert legend.locator("svg path").count() == 7
    assert_communes_and_streets(page, "#reports-map", zoom_in=2)  # zoom 16: each report
    assert page.locator("#reports-map path.report-marker.status-received").count() == 5
    pages = page.get_by_role("navigation", name="Pages de la liste")
    assert pages.get_by_role("link", name="Page suivante").get_attribute("href") == "?page=2"
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_the_tracking_page_map_names_the_equipment_in_writing(page, town):
    page.set_viewport_size(PHONE)
    page.goto(f"/signalements/{town[0].reference}/")
    assert_communes_and_streets(page, "#place-map")  # zoom 18 from the start
    page.wait_for_function(  # the public equipment around, drawn from our layers
        "() => Number(document.getElementById('place-map').dataset.contextEquipment) > 0"
    )
    # the equipment of its kind near it: each number written on the map, as in the list
    listed = page.locator(".place-equipment strong").all_inner_texts()
    labels = page.locator("#place-map .place-label")
    assert listed and sorted(labels.all_inner_texts()) == sorted(listed)
    assert labels.first.is_visible()  # permanently, no hover needed
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_the_heatmap_page_shows_rates_over_our_context(page, town):
    page.set_viewport_size(PHONE)
    page.goto("/statistiques/publiques/")
    assert_communes_and_streets(page, "#heat-map", zoom_in=3)  # zoom 12 to 15
    assert page.get_by_text("Délai médian de résolution").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_the_admin_map_widget_draws_our_context(page, town):
    login(page, "admin@libercourt.demo")
    page.goto("/admin/routing/routingrule/add/")
    page.wait_for_selector(".leaflet-container", timeout=15000)
    assert_communes_and_streets(page, ".leaflet-container", zoom_in=1)
    assert page.console_errors == []
