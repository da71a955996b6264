"""Visibility of layers and API tokens, role by role; never data from a layer one may not see."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def features(client, slug, **headers):
    return client.get(f"/api/layers/{slug}/features/", **headers)


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_anonymous_reads_public_and_is_asked_to_authenticate_for_the_rest(client, layers):
    assert features(client, "eclairage-test").status_code == 200
    for slug in ("reseau-eau", "bornes-verre-test"):
        response = features(client, slug)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "AEP-" not in response.content.decode() and "BAV-" not in response.content.decode()


@pytest.mark.parametrize(
    ("who", "internal", "shared"),
    [
        ("citizen", 403, 403),
        ("agent", 403, 200),  # Libercourt agent: the CAHC shares its glass points with Libercourt
        ("lib_admin", 403, 200),
        ("cahc_agent", 200, 200),  # owner organisation
        ("cahc_admin", 200, 200),
        ("superuser", 200, 200),
    ],
)
def test_agents_read_what_their_organisation_may_read(client, layers, demo, who, internal, shared):
    client.force_login(getattr(demo, who))
    assert features(client, "reseau-eau").status_code == internal
    assert features(client, "bornes-verre-test").status_code == shared
    assert features(client, "eclairage-test").status_code == 200


def test_catalogue_and_collections_follow_visibility(client, layers, demo):
    client.force_login(demo.agent)
    assert {lay["slug"] for lay in client.get("/api/layers/").json()["layers"]} == {
        "eclairage-test",
        "bornes-verre-test",
    }
    assert {c["id"] for c in client.get("/ogcapi/collections").json()["collections"]} == {
        "eclairage-test",
        "bornes-verre-test",
        "signalements",  # the citizens' reports: public fields, open to all
    }
    client.force_login(demo.cahc_agent)
    assert {c["id"] for c in client.get("/ogcapi/collections").json()["collections"]} == {
        "eclairage-test",
        "bornes-verre-test",
        "reseau-eau",
        "signalements",
    }


def test_token_with_scope_reads_its_organisation_layers(
    client, layers, demo, django_assert_max_num_queries
):
    _token, secret = api_token_create(service=demo.eau, name="QGIS SIG", scopes=["layers:read"])
    with django_assert_max_num_queries(4):  # token, layer, page (+ last-used stamp)
        response = features(client, "reseau-eau", **bearer(secret))
    assert response.status_code == 200
    assert response.json()["numberMatched"] == 50
    assert response["Cache-Control"].startswith("private")


def test_token_of_another_organisation_is_refused(client, layers, demo):
    _token, secret = api_token_create(service=demo.voirie, name="Voirie", scopes=["layers:read"])
    assert features(client, "reseau-eau", **bearer(secret)).status_code == 403
    assert features(client, "bornes-verre-test", **bearer(secret)).status_code == 200  # shared


def test_token_without_the_scope_gets_403_with_the_reason(client, layers, demo):
    _token, secret = api_token_create(
        service=demo.eau, name="Lecture demandes", scopes=["requests:read"]
    )
    response = features(client, "reseau-eau", **bearer(secret))
    assert response.status_code == 403
    assert "layers:read" in response.json()["description"]


def test_revoked_expired_and_unknown_tokens_are_401(client, layers, demo):
    token, secret = api_token_create(service=demo.eau, name="Ancien", scopes=["layers:read"])
    api_token_revoke(token=token)
    assert features(client, "reseau-eau", **bearer(secret)).status_code == 401
    _t, expired = api_token_create(
        service=demo.eau,
        name="Expiré",
        scopes=["layers:read"],
        expires_at=timezone.now() - dt.timedelta(days=1),
    )
    assert features(client, "reseau-eau", **bearer(expired)).status_code == 401
    assert features(client, "eclairage-test", **bearer("grc_not-a-real-token")).status_code == 401


def test_a_token_stops_working_while_its_service_is_inactive(client, layers, demo):
    """A token acts for its service: deactivating the service cuts it at once (401, with the
    reason), as it cuts the service's members; reactivating it brings it back."""
    _token, secret = api_token_create(service=demo.eau, name="QGIS SIG", scopes=["layers:read"])
    assert features(client, "reseau-eau", **bearer(secret)).status_code == 200
    demo.eau.is_active = False
    demo.eau.save(update_fields=["is_active"])
    for slug in ("reseau-eau", "bornes-verre-test", "eclairage-test"):  # even a public layer
        response = features(client, slug, **bearer(secret))
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "service est désactivé" in response.json()["description"]
        assert "AEP-" not in response.content.decode()
    assert client.get("/tiles/reseau-eau/14/8329/5522.mvt", **bearer(secret)).status_code == 401
    assert "reseau-eau" not in client.get("/ogcapi/collections", **bearer(secret)).content.decode()
    demo.eau.is_active = True
    demo.eau.save(update_fields=["is_active"])
    assert features(client, "reseau-eau", **bearer(secret)).status_code == 200


def test_an_inactive_service_token_grants_nothing_in_the_permission_module(layers, demo):
    """The rule is in accounts.permissions, whoever hands it a token (not only the API views)."""
    from accounts import permissions

    token, _secret = api_token_create(service=demo.eau, name="QGIS", scopes=["layers:read"])
    assert permissions.token_refusal(token) is None
    assert permissions.principal_organisations(token, scope="layers:read") == {demo.cahc.pk}
    assert permissions.can_read_layer(token, layers.internal)
    demo.eau.is_active = False
    assert "désactivé" in permissions.token_refusal(token)
    assert permissions.principal_organisations(token, scope="layers:read") == frozenset()
    assert not permissions.can_read_layer(token, layers.internal)
    assert not permissions.can_read_layer(token, layers.shared)


def test_a_token_outlives_the_role_of_its_creator(client, layers, demo):
    """A token belongs to its service, not to the person who created it: it keeps working when
    that person leaves the service (its managers see the creator in the admin and revoke it)."""
    from accounts.models import ServiceMembership

    _token, secret = api_token_create(
        service=demo.voirie, name="QGIS voirie", scopes=["layers:read"], created_by=demo.manager
    )
    ServiceMembership.objects.filter(user=demo.manager).delete()
    assert features(client, "bornes-verre-test", **bearer(secret)).status_code == 200


def test_tokens_are_never_accepted_in_the_url(client, layers, demo):
    _token, secret = api_token_create(service=demo.eau, name="QGIS", scopes=["layers:read"])
    for name in ("token", "access_token", "api_key"):
        response = client.get(f"/api/layers/reseau-eau/features/?{name}={secret}")
        assert response.status_code == 400
        assert "Authorization" in response.json()["description"]


def test_tokens_are_stored_hashed(demo):
    token, secret = api_token_create(service=demo.eau, name="QGIS", scopes=["layers:read"])
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret not in (stored.digest, stored.prefix) and len(stored.digest) == 64
    assert secret.startswith("grc_" + stored.prefix)
    with pytest.raises(ValueError, match="Unknown scopes"):
        api_token_create(service=demo.eau, name="x", scopes=["admin:all"])


def test_tiles_follow_the_same_rules(client, layers, demo):
    assert client.get("/tiles/reseau-eau/14/8329/5522.mvt").status_code == 401
    client.force_login(demo.agent)
    assert client.get("/tiles/reseau-eau/14/8329/5522.mvt").status_code == 403
    client.force_login(demo.cahc_agent)
    assert client.get("/tiles/reseau-eau/14/8329/5522.mvt").status_code == 200
