"""The admin's map widget (vendored Leaflet) works under the strict CSP, with no CDN."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rule_editing_shows_a_working_map(page, demo, live_server):
    outside = []
    page.on("request", lambda r: r.url.startswith(live_server.url) or outside.append(r.url))
    page.goto("/compte/connexion/")
    page.fill("#id_username", "admin@libercourt.demo")
    page.fill("#id_password", "Libercourt-demo-2026")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto("/admin/routing/routingrule/add/")
    page.wait_for_selector(".leaflet-container", timeout=15000)
    assert page.locator(".leaflet-draw-draw-polygon").count() == 1  # the drawing tools loaded
    assert page.console_errors == []  # no CSP violation
    assert outside == []  # nothing fetched from a CDN
