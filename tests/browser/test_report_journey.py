"""A citizen reports in Chromium: on the map with a photo, and by keyboard without the map."""

import re

import pytest

from notifications.models import OutboxMail
from reports.models import Report
from tests.images import jpeg

from .conftest import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def town(demo):
    from addresses.services import demo_addresses_load
    from gis_layers.services import demo_layers_load
    from routing.services import categories_load

    demo_layers_load()
    categories_load()
    demo_addresses_load()
    return demo


def test_a_broken_streetlight_clicked_on_the_map_with_a_photo(page, town, tmp_path):
    page.goto("/signaler/")
    assert axe_violations(page) == []
    page.select_option("#id_category", "lampadaire-eteint")
    with page.expect_navigation():
        page.get_by_role("button", name="Continuer").click()
    page.wait_for_selector("#report-map.leaflet-container")
    with page.expect_navigation():
        page.locator("#report-map").click(position={"x": 200, "y": 150})
    # Back from the server: who handles it, and the streetlights around as markers and a list.
    assert "Éclairage public" in page.locator("#who-handles").inner_text()
    assert int(page.locator("#report-map").get_attribute("data-equipment")) > 0
    page.locator("#report-map path.leaflet-interactive").first.click(force=True)
    picked = page.locator("#report-map").get_attribute("data-picked")
    assert picked and picked.startswith("EP-")
    assert page.locator("input[name=equipment]:checked").evaluate("e => e.id") != "equipment-none"
    page.fill("#id_description", "Lampadaire éteint depuis trois soirs.")
    photo = tmp_path / "lampadaire.jpg"
    photo.write_bytes(jpeg(120, 90))
    page.set_input_files("#id_photos", str(photo))
    page.fill("#id_contact_email", "camille@example.org")
    page.check("#id_privacy")
    assert axe_violations(page) == []
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer le signalement").click()
    report = Report.objects.get()
    assert re.search(rf"/signalements/{report.reference}/\?cle=", page.url)
    assert "est bien reçu" in page.content()
    assert report.equipment.ref == picked and report.photos.count() == 1
    assert OutboxMail.objects.filter(reference=report.reference, topic="acknowledgement").exists()
    assert page.locator(".photos img").count() == 1
    assert axe_violations(page) == []
    # The public map of reports shows it (and the list beside it, for those without the map).
    page.goto("/signalements/")
    page.wait_for_selector("#reports-map[data-reports='1']", state="attached")
    assert page.locator("#reports-map path.leaflet-interactive").count() >= 1
    assert report.reference in page.locator(".report-list").inner_html()
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_the_same_by_keyboard_through_the_address_search(page, town):
    page.goto("/signaler/")
    page.locator("#id_category").focus()
    page.keyboard.type("Lampadaire éteint")  # a closed <select> picks by typed letters
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # "Continuer"
    page.locator("#id_address_query").focus()
    page.keyboard.type("3 rue jean jaures")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # in the field: searches (the form's hidden first button)
    first = page.locator("#address-1")
    assert "3 Rue Jean-Jaurès" in page.locator("label[for=address-1]").inner_text()
    first.focus()
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # "Utiliser cette adresse"
    assert "Éclairage public" in page.locator("#who-handles").inner_text()
    assert "3 Rue Jean-Jaurès" in page.locator("#place-chosen").inner_text()
    page.locator("#id_description").focus()
    page.keyboard.type("Éteint depuis hier soir.")
    page.locator("#id_privacy").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Envoyer le signalement").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    report = Report.objects.get()
    assert report.address_label == "3 Rue Jean-Jaurès 62820 Libercourt"
    assert report.service.name == "Éclairage public"
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_the_report_page_updates_live_when_an_agent_acts(page, town, settings, make_report):
    """No reload: the page swaps in the new status and timeline, and announces it."""
    from tracking import services

    settings.GRC_LIVE_POLL_SECONDS = 1
    report = make_report("signalisation")
    page.goto(f"/signalements/{report.reference}/?cle={report.access_key}")
    assert page.locator("#status-label").inner_text() == "Reçu"
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    services.request_set_status(
        report, status="planned", message="Passage de l'équipe mardi matin.", actor=town.agent
    )
    page.wait_for_selector("#status-label:has-text('Intervention programmée')", timeout=10_000)
    assert "Passage de l'équipe mardi matin." in page.locator(".timeline").inner_text()
    assert page.evaluate("window.__sameDocument") is True
    assert "Intervention programmée" in page.locator("#live-announce").inner_text()
    assert page.console_errors == []
