"""A citizen reports in Chromium: on a phone by touch, and by keyboard through the address."""

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


@pytest.fixture
def phone(browser, live_server):
    """A phone: 390 x 844, touch, mobile viewport (what most reports are made on)."""
    context = browser.new_context(
        locale="fr-FR",
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        has_touch=True,
        is_mobile=True,
    )
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()


def tap_map(page, x: int, y: int) -> float:
    """Bring the map to mid-screen, tap it, and give the page's scroll position at the tap."""
    page.locator("#report-map").evaluate("e => e.scrollIntoView({block: 'center'})")
    before = page.evaluate("window.scrollY")
    label = page.locator("#place-result").inner_text()
    page.locator("#report-map").tap(position={"x": x, "y": y})
    page.wait_for_function(
        "([old]) => document.querySelector('#place-result').innerText !== old"
        " && document.querySelector('#report-map').dataset.state === 'ready'",
        arg=[label],
    )
    return before


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_whole_journey_on_a_phone_keeps_scroll_text_and_photo(phone, town, tmp_path):
    page = phone
    page.goto("/signaler/")
    page.wait_for_selector("#report-map.leaflet-container")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    assert axe_violations(page) == [] and no_sideways_scroll(page)
    # the place first: a tap, and the point is named from our address table
    before = tap_map(page, 150, 120)
    assert abs(page.evaluate("window.scrollY") - before) < 40
    assert "Libercourt" in page.locator("#place-chosen").inner_text()
    page.wait_for_function(  # said to screen readers: what changed, and what comes next
        "() => ['Libercourt.', 'Choisissez maintenant le problème'].every("
        "t => document.querySelector('#journey-announce').textContent.includes(t))"
    )
    assert axe_violations(page) == []
    # then the problem: who handles it, without a reload
    page.select_option("#id_category", "lampadaire-eteint")
    page.wait_for_selector("#who-handles")
    assert "Éclairage public" in page.locator("#who-handles").inner_text()
    assert axe_violations(page) == []
    page.fill("#id_description", "Lampadaire éteint depuis trois soirs.")
    photo = tmp_path / "lampadaire.jpg"
    photo.write_bytes(jpeg(120, 90))
    page.set_input_files("#id_photos", str(photo))
    # another tap elsewhere: the place changes, the page does not move, nothing typed is lost
    first = page.locator("#place-chosen").inner_text()
    before = tap_map(page, 260, 260)
    assert abs(page.evaluate("window.scrollY") - before) < 40
    assert page.locator("#place-chosen").inner_text() != first
    assert page.input_value("#id_description") == "Lampadaire éteint depuis trois soirs."
    assert page.locator("#id_photos").evaluate("e => e.files.length") == 1
    assert page.evaluate("window.__sameDocument") is True
    assert axe_violations(page) == [] and no_sideways_scroll(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer le signalement").tap()
    report = Report.objects.get()
    assert re.search(rf"/signalements/{report.reference}/\?cle=", page.url)
    assert report.photos.count() == 1 and report.address_label.endswith("Libercourt")
    assert "gardez le lien de cette page" in page.content()  # no email given: no mail either
    acknowledgements = OutboxMail.objects.filter(topic="acknowledgement")
    assert not acknowledgements.filter(reference=report.reference).exists()
    assert page.input_value("#keep-link-url") == page.url
    assert page.get_by_role("button", name="Copier le lien").is_visible()  # shown by its script
    assert axe_violations(page) == [] and no_sideways_scroll(page)
    assert page.console_errors == []


def test_by_keyboard_through_the_address_search_all_errors_at_once(page, town, tmp_path):
    page.goto("/signaler/")
    page.wait_for_selector("#report-map.leaflet-container")
    page.evaluate("window.__sameDocument = true")
    page.locator("#id_address_query").focus()
    page.keyboard.type("3 rue jean jaures")
    page.keyboard.press("Enter")  # in the field: searches (the form's hidden first button)
    page.wait_for_selector("#adresses:focus")  # the addresses found take the focus
    assert "3 Rue Jean-Jaurès" in page.locator("label[for=address-1]").inner_text()
    page.keyboard.press("Tab")  # the address checked
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Utiliser cette adresse"
    page.wait_for_selector("#place-chosen:focus")
    assert "3 Rue Jean-Jaurès" in page.locator("#place-chosen").inner_text()
    page.locator("#id_category").focus()
    page.keyboard.type("Dépôt sauvage")  # a closed <select> picks by typed letters
    page.wait_for_selector("#who-handles")
    assert page.locator("#form-errors").count() == 0  # the new required question: no error yet
    photo = tmp_path / "depot.jpg"
    photo.write_bytes(jpeg(120, 90))
    page.set_input_files("#id_photos", str(photo))
    page.get_by_role("button", name="Envoyer le signalement").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#form-errors:focus")  # every error at once, the photo kept
    links = page.locator("#form-errors a").evaluate_all("l => l.map(a => a.hash)")
    assert links == ["#id_q_volume", "#id_description"]
    assert page.locator("#id_photos").evaluate("e => e.files.length") == 1
    assert page.locator("#id_description").get_attribute("aria-invalid") == "true"
    assert axe_violations(page) == []
    page.locator("label[for=id_q_volume_0]").click()
    page.fill("#id_description", "Un matelas et des sacs.")
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer le signalement").click()
    report = Report.objects.get()
    assert report.address_label == "3 Rue Jean-Jaurès 62820 Libercourt"
    assert report.answers["volume"] and report.photos.count() == 1
    assert page.evaluate("window.__sameDocument") is None  # now on the tracking page
    assert page.console_errors == []


def on_screen(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()  # relative to the viewport
    return box is not None and -1 <= box["y"] < 844


def test_without_javascript_each_step_lands_at_its_place_in_the_form(browser, live_server, town):
    """No script: every step reloads the page, but at the step's anchor, not at the top."""
    context = browser.new_context(
        locale="fr-FR",
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        java_script_enabled=False,
    )
    page = context.new_page()
    page.goto("/signaler/")
    page.fill("#id_address_query", "3 rue jean jaures")
    with page.expect_navigation():
        page.get_by_role("button", name="Chercher l'adresse").click()
    assert page.url.endswith("#par-adresse")
    assert on_screen(page, "#adresses") and page.evaluate("window.scrollY") > 300
    with page.expect_navigation():
        page.get_by_role("button", name="Utiliser cette adresse").click()
    assert page.url.endswith("#place-result")
    assert "3 Rue Jean-Jaurès" in page.locator("#place-chosen").inner_text()
    assert on_screen(page, "#place-chosen") and page.evaluate("window.scrollY") > 300
    context.close()


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
