"""The login page is named after the portal, not after the host it is served from."""

from html import unescape

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_login_page_reads_the_portals_name(client, demo):
    response = client.get("/compte/connexion/", HTTP_HOST="127.0.0.1:8000")
    page = unescape(response.content.decode())
    assert f"<title>Connexion – {settings.GRC_SITE_NAME}</title>" in page
    header = page.split('<p class="site-title">', 1)[1].split("</p>", 1)[0]
    assert settings.GRC_SITE_NAME in header
    assert "127.0.0.1" not in page.split("<main", 1)[0]  # neither title nor header


def test_a_failed_login_keeps_the_portals_name(client, demo):
    response = client.post(
        "/compte/connexion/",
        {"username": demo.citizen.email, "password": "pas-le-bon"},
        HTTP_HOST="127.0.0.1:8000",
    )
    page = unescape(response.content.decode())
    assert response.status_code == 200
    assert f"<title>Connexion – {settings.GRC_SITE_NAME}</title>" in page
