"""The site shell in a real browser: map from our own data, keyboard path, no a11y violations."""

import re

import pytest

from .conftest import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_map_draws_the_communes_from_our_data(page, demo):
    page.goto("/")
    page.wait_for_selector('#territory-map[data-loaded="14"]', timeout=15000)
    assert page.locator("#territory-map path.leaflet-interactive").count() == 14
    assert page.console_errors == []  # no CSP violation, no script error, no network call outside
    page.screenshot(path=str(pytest.screenshot_dir / "home.png"), full_page=True)


def test_clicking_a_commune_opens_who_does_what(page, demo):
    page.goto("/")
    page.wait_for_selector('#territory-map[data-loaded="14"]', timeout=15000)
    page.evaluate("""() => {
        const el = document.getElementById('territory-map');
        window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 10);
    }""")
    # Libercourt's town hall, projected by Leaflet to screen coordinates.
    box = page.locator("#territory-map").bounding_box()
    assert box is not None
    page.locator("#territory-map path.leaflet-interactive").nth(
        _index_of(page, "Libercourt")
    ).click(force=True)
    page.wait_for_url(re.compile(r".*/qui-fait-quoi/\?commune=62907$"))
    assert page.locator("h1").inner_text() == "Qui fait quoi à Libercourt ?"


def _index_of(page, name: str) -> int:
    names = page.evaluate(
        """() => fetch('/api/territory/communes/').then(r => r.json())
                 .then(c => c.features.map(f => f.properties.name))"""
    )
    return names.index(name)


def test_keyboard_skip_link_and_login_without_mouse(page, demo):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    page.goto("/compte/connexion/")
    page.focus("#id_username")
    page.keyboard.type("agent.voirie@libercourt.demo")
    page.keyboard.press("Tab")
    page.keyboard.type("Libercourt-demo-2026")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.match(r"^http://[^/]+/$", page.url)
    page.goto("/intranet/")
    assert "Voirie – Ville de Libercourt" in page.locator("main").inner_text()


PUBLIC_PAGES = ["/", "/contacts/", "/qui-fait-quoi/?commune=62907", "/compte/connexion/"]


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_have_no_axe_violations(page, demo, url):
    page.goto(url)
    if url == "/":
        page.wait_for_selector('#territory-map[data-loaded="14"]', timeout=15000)
    assert axe_violations(page) == []


def test_english_pages_have_no_axe_violations(browser, live_server, demo):
    context = browser.new_context(locale="en-GB", base_url=live_server.url)
    page = context.new_page()
    page.goto("/contacts/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert axe_violations(page) == []
    context.close()


def test_intranet_has_no_axe_violations(page, demo, client):
    page.goto("/compte/connexion/")
    page.fill("#id_username", "responsable.voirie@libercourt.demo")
    page.fill("#id_password", "Libercourt-demo-2026")
    page.click("button[type=submit] >> text=Se connecter")
    page.goto("/intranet/")
    assert "Membres du service Voirie" in page.locator("main").inner_text()
    assert axe_violations(page) == []


def test_streets_from_our_own_data_appear_when_zooming_in(page, demo):
    from gis_layers.services import demo_layers_load

    demo_layers_load()
    page.goto("/")
    page.wait_for_selector('#territory-map[data-loaded="14"]', timeout=15000)
    before = page.locator("#territory-map path").count()
    for _ in range(4):  # from the whole CAHC to street level
        page.locator("#territory-map .leaflet-control-zoom-in").click()
        page.wait_for_timeout(600)
    page.wait_for_function(
        "n => document.querySelectorAll('#territory-map path').length > n + 50",
        arg=before,
        timeout=15000,
    )
    assert page.console_errors == []


def test_the_scripts_speak_the_page_language(page, demo, live_server):
    """The scripts' own texts come from Django's JavaScript catalog in the page's language
    (French as written, English translated), loaded before the modules, under the CSP."""
    read = """async () => {
        const { gettext } = await import('/static/js/i18n.js');
        return gettext('%(n)s signalements', { n: 3 });
    }"""
    page.goto("/")
    assert page.evaluate(read) == "3 signalements"
    # what the language switch (/i18n/setlang/) leaves behind
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.evaluate(read) == "3 reports"
    assert page.console_errors == []
