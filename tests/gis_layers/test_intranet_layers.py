"""The intranet catalogue with QGIS URLs, and API tokens managed in the admin."""

import re

import pytest

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_catalogue_lists_readable_layers_with_qgis_urls(
    client, layers, demo, django_assert_max_num_queries
):
    client.force_login(demo.agent)
    with django_assert_max_num_queries(8):
        page = client.get("/intranet/couches/").content.decode()
    assert "Éclairage (test)" in page and "Bornes à verre (partagée)" in page
    assert "Réseau d&#x27;eau" not in page and "Réseau d'eau" not in page
    detail = client.get("/intranet/couches/eclairage-test/").content.decode()
    assert 'value="http://testserver/ogcapi/"' in detail
    assert 'value="http://testserver/api/layers/eclairage-test/features/"' in detail
    assert 'value="http://testserver/tiles/eclairage-test/{z}/{x}/{y}.mvt"' in detail
    assert "Remplacer les données" not in detail  # an agent reads, the service's manager imports


def test_layer_detail_of_an_unreadable_layer_is_404(client, layers, demo):
    client.force_login(demo.agent)
    assert client.get("/intranet/couches/reseau-eau/").status_code == 404


def test_citizens_have_no_catalogue(client, layers, demo):
    client.force_login(demo.citizen)
    assert client.get("/intranet/couches/").status_code == 403


def test_manager_creates_a_token_shown_once_and_revokes_it(client, demo, layers):
    client.force_login(demo.manager)
    response = client.post(
        "/admin/accounts/apitoken/add/",
        {"service": demo.voirie.pk, "name": "QGIS voirie", "scopes": ["layers:read"]},
        follow=True,
    )
    page = response.content.decode()
    secret = re.search(r"(grc_[A-Za-z0-9_\-]{20,})", page).group(1)
    token = ApiToken.objects.get(name="QGIS voirie")
    assert token.service == demo.voirie and token.scopes == ["layers:read"]
    assert secret not in client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/layers/bornes-verre-test/features/", **headers).status_code == 200
    client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/layers/bornes-verre-test/features/", **headers).status_code == 401


def test_manager_cannot_create_a_token_for_another_service(client, demo):
    client.force_login(demo.manager)
    response = client.post(
        "/admin/accounts/apitoken/add/",
        {"service": demo.eau.pk, "name": "Intrus", "scopes": ["layers:read"]},
    )
    assert response.status_code == 200  # the form refuses the choice
    assert not ApiToken.objects.exists()
