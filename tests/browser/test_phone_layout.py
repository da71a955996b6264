"""Every public page fits a phone: no sideways scroll at 320, 390 and 768 px, and no axe-core
violation at 390 px (the phone most reports are made from).

One browser context per width visits every page, logged in as the citizen for "Mes demandes":
the document's scroll width must equal the viewport's width on each of them.
"""

import pytest
from playwright.sync_api import expect

from .conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = pytest.screenshot_dir  # .local/screenshots, for a human look at 390 px

# The widest element, to say what overflows when a page does.
OVERFLOW = """() => {
    const width = window.innerWidth;
    const wide = [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > width + 0.5)
        .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                  + (e.className && typeof e.className === 'string'
                     ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));
    return {scroll: document.documentElement.scrollWidth, viewport: width,
            culprits: wide.slice(-3)};
}"""


@pytest.fixture
def citizen_reports(demo, make_report):
    """The citizen's requests (one with a long category name) and one report for its page."""
    make_report("nid-de-poule", author=demo.citizen, contact_email=demo.citizen.email)
    make_report(
        "signalisation",
        author=demo.citizen,
        contact_email=demo.citizen.email,
        description="Panneau « Cédez-le-passage » tourné vers la mauvaise rue depuis mardi.",
    )
    return make_report(
        "fuite-eau",
        description=(
            "Fuite d'eau au pied du compteur n° COMPTEUR-EAU-62820-LIBERCOURT-RUE-JULES-GUESDE-"
            "0000012345-BIS, elle coule depuis ce matin."
        ),
    )


def public_pages(report) -> list[tuple[str, str]]:
    """(name, URL) of every page the public reaches, the citizen's own page last."""
    return [
        ("accueil", "/"),
        ("signaler", "/signaler/"),
        ("signalements", "/signalements/"),
        ("signalement", f"/signalements/{report.reference}/"),
        ("suivi", f"/signalements/{report.reference}/?cle={report.access_key}"),
        ("qui-fait-quoi", "/qui-fait-quoi/?commune=62907"),
        ("contacts", "/contacts/"),
        ("statistiques", "/statistiques/publiques/"),
        ("connexion", "/compte/connexion/"),
        ("inscription", "/compte/inscription/"),
        ("mot-de-passe", "/compte/mot-de-passe/oublie/"),
        ("mes-demandes", "/compte/mes-demandes/"),
    ]


def log_in(page, email: str) -> None:
    page.goto("/compte/connexion/")
    page.fill("#id_username", email)
    page.fill("#id_password", "Libercourt-demo-2026")
    with page.expect_navigation():
        page.click("main button[type=submit]")


@pytest.mark.parametrize("width", [320, 390, 768])
def test_no_page_is_wider_than_the_phone(browser, live_server, demo, citizen_reports, width):
    context = browser.new_context(
        locale="fr-FR",
        base_url=live_server.url,
        viewport={"width": width, "height": 844},
        # Touch as on a phone; not Chromium's "mobile" mode, which zooms out a page wider than
        # the screen and so would hide the very overflow measured here.
        has_touch=True,
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    overflowing, violations = {}, {}
    try:
        for name, url in public_pages(citizen_reports):
            if name == "mes-demandes":
                log_in(page, demo.citizen.email)
            page.goto(url)
            page.wait_for_load_state("load")
            if name == "mes-demandes":
                assert citizen_reports.reference not in page.locator("main").inner_text()
                assert page.locator("main tbody tr").count() == 2
                if width < 640:  # stacked rows, each cell saying its column
                    label = page.evaluate(
                        """() => getComputedStyle(document.querySelector('main tbody td'),
                                                  '::before').content"""
                    )
                    assert label.startswith('"Numéro"')
            if name == "signaler":
                # a place tapped and the longest category name chosen: the list, its hint and
                # the card of who handles it (phone, email) must still fit. Each step is a
                # fetch swapped in after a pause: wait for what it shows ("networkidle" is
                # already reached when the page loaded, and would measure the page before it).
                page.wait_for_selector("#report-map.leaflet-container")
                page.locator("#report-map").click()
                page.wait_for_selector("#place-chosen")
                longest = page.evaluate(
                    """() => [...document.querySelectorAll('#id_category option')]
                        .filter(o => o.value)
                        .sort((a, b) => b.text.length - a.text.length)[0].value"""
                )
                page.select_option("#id_category", longest)
                page.wait_for_selector("#who-handles")
            measure = page.evaluate(OVERFLOW)
            if measure["scroll"] > measure["viewport"]:
                overflowing[name] = measure
            if width == 390:
                page.screenshot(path=SHOTS / f"layout-{name}.png", full_page=True)
                found = axe_violations(page)
                if found:
                    violations[name] = found
    finally:
        context.close()
    assert overflowing == {}
    assert violations == {}
    assert errors == []


def test_the_header_menu_folds_under_a_button_on_a_phone(page, demo):
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto("/contacts/")
    menu = page.get_by_role("button", name="Menu")
    contacts = page.get_by_role("navigation", name="Menu principal").get_by_role(
        "link", name="Qui fait quoi ?"
    )
    assert menu.get_attribute("aria-expanded") == "false"
    assert not contacts.is_visible()
    # the whole header fits in the first lines of the screen
    assert page.locator("header").bounding_box()["height"] < 130
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    assert contacts.is_visible() and page.get_by_label("Langue").is_visible()
    page.screenshot(path=SHOTS / "layout-menu-320.png")
    page.keyboard.press("Tab")  # into the menu
    page.keyboard.press("Escape")
    assert menu.get_attribute("aria-expanded") == "false" and not contacts.is_visible()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Menu"
    menu.click()
    with page.expect_navigation():
        contacts.click()
    assert page.locator("h1").inner_text().startswith("Qui fait quoi")
    # on a wide screen: no button, the links in the header
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(menu).to_be_hidden()
    expect(contacts).to_be_visible()
    page.screenshot(path=SHOTS / "layout-header-1280.png")
    assert page.console_errors == []


def test_the_routing_simulator_takes_an_equipment_code(page, demo):
    """An agent types the number written on a streetlight, as they know it: the decision names
    its owner; the page fits a phone and has no axe-core violation."""
    from gis_layers.models import Feature
    from gis_layers.services import demo_layers_load
    from routing.services import categories_load

    demo_layers_load()
    categories_load()  # links the categories to the demo layers
    light = Feature.objects.get(layer__slug="eclairage-public", ref="EP-0154")
    where = light.geom.transform(4326, clone=True)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, demo.agent.email)
    page.goto("/intranet/aiguillage/simulateur/")
    page.select_option("#id_category", "lampadaire-eteint")
    page.fill("#id_lon", f"{where.x:.6f}")
    page.fill("#id_lat", f"{where.y:.6f}")
    page.get_by_label("Numéro de l'équipement (facultatif)").fill(" ep-0154 ")
    with page.expect_navigation():
        page.get_by_role("button", name="Simuler").click()
    decision = page.locator("#decision").inner_text()
    assert "EP-0154 (" in decision and "appartient à" in decision
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(page) == []
    page.get_by_label("Numéro de l'équipement (facultatif)").fill("EP-9999")
    with page.expect_navigation():
        page.get_by_role("button", name="Simuler").click()
    assert "Aucun équipement ne porte le numéro « EP-9999 »" in (
        page.get_by_role("alert").inner_text()
    )
    assert page.console_errors == []
