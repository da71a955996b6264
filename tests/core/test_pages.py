"""The site shell: French first, English second, accessible skeleton, strict CSP, real content."""

import re
from html import unescape

import pytest

pytestmark = pytest.mark.django_db


def test_home_in_french_by_default(client, demo):
    response = client.get("/")
    page = unescape(response.content.decode())
    assert response.status_code == 200
    assert '<html lang="fr">' in page
    assert "Vos demandes à la mairie et à l'agglomération" in page
    assert 'href="#contenu"' in page and 'id="contenu"' in page  # skip link to main
    for landmark in ('role="banner"', "<nav", "<main", 'role="contentinfo"'):
        assert landmark in page
    assert page.count("/qui-fait-quoi/?commune=") == 14  # the non-map path to every commune


def test_home_in_english_on_request(client, demo):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    page = unescape(response.content.decode())
    assert '<html lang="en">' in page
    assert "Your requests to the town hall and the agglomeration, in one place" in page
    assert "Skip to content" in page


def test_language_switch_sticks(client, demo):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/contacts/"})
    assert response.status_code == 302
    assert '<html lang="en">' in unescape(client.get("/contacts/").content.decode())


def test_strict_content_security_policy_with_a_fresh_nonce(client, demo):
    first = client.get("/")["Content-Security-Policy"]
    second = client.get("/")["Content-Security-Policy"]
    assert "default-src 'self'" in first and "object-src 'none'" in first
    assert "frame-ancestors 'none'" in first
    assert "unsafe-inline" not in first.split("script-src", 1)[1].split(";", 1)[0]
    nonce = re.search(r"'nonce-([^']+)'", first).group(1)
    assert nonce not in second


def test_pages_load_no_third_party_asset(client, demo):
    for url in ("/", "/contacts/", "/qui-fait-quoi/", "/compte/connexion/"):
        page = unescape(client.get(url).content.decode())
        for src in re.findall(r'(?:src|href)="(https?://[^"]+)"', page):
            # Only links a citizen clicks (commune websites) may point outside; no asset does.
            assert not src.endswith((".js", ".css")), (url, src)
        assert '<script src="http' not in page


def test_contacts_page_quotes_hours_and_contacts(client, demo, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = unescape(client.get("/contacts/").content.decode())
    assert "État civil" in page
    assert "etat-civil@libercourt.demo" in page
    assert "du lundi au vendredi : 8 h 30 – 12 h, 13 h 30 – 17 h 30 ; samedi : 9 h – 12 h" in page
    assert "Collecte des déchets" in page
    assert "Ville de Carvin" in page and "hors portail" in page


def test_who_does_what_in_libercourt(client, demo):
    page = unescape(client.get("/qui-fait-quoi/?commune=62907").content.decode())
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td[^>]*>([^<]+)</td>', page))
    assert rows["Collecte des déchets"] == "Communauté d'agglomération d'Hénin-Carvin"
    assert rows["Voirie et déplacements"] == "Ville de Libercourt"
    assert "voirie@libercourt.demo" in page


def test_who_does_what_for_a_commune_not_on_board(client, demo):
    page = unescape(client.get("/qui-fait-quoi/?commune=62215").content.decode())
    assert "n'utilise pas encore ce portail" in page
    assert "1 rue Thibaut" in page  # Carvin's town hall, from the open data
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td[^>]*>([^<]+)</td>', page))
    assert rows["Eau et assainissement"] == "Communauté d'agglomération d'Hénin-Carvin"


@pytest.mark.parametrize(
    ("insee", "message"), [("59462", "ne fait pas partie"), ("99999", "inconnue")]
)
def test_who_does_what_outside_the_territory(client, demo, insee, message):
    response = client.get(f"/qui-fait-quoi/?commune={insee}")
    assert response.status_code == 404
    assert message in unescape(response.content.decode())
