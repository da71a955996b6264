"""The layer admin: who may give a layer to which organisation and service, role by role.

Choices are narrowed in the form, and a forged POST (a value the form did not offer) is refused
by the permission module: no layer is created, none changes owner.
"""

import re

import pytest

from gis_layers.models import Layer

pytestmark = pytest.mark.django_db

ADD = "/admin/gis_layers/layer/add/"


def layer_data(**overrides):
    data = {
        "slug": "bancs",
        "name": "Bancs",
        "description": "",
        "geometry_type": "Point",
        "attribute_schema": "[]",
        "identifier_label": "Numéro",
        "licence": "Licence Ouverte 2.0 (Etalab)",
        "attribution": "",
        "visibility": "public",
        "owner_service": "",
        "domain": "",
    }
    data.update({k: ("" if v is None else v) for k, v in overrides.items()})
    return data


def choices(page: str, field: str) -> set[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', page, re.S)
    return {v for v in re.findall(r'<option value="([^"]*)"', select.group(1)) if v}


def add(client, organisation, service):
    return client.post(
        ADD,
        layer_data(
            owner_organisation=organisation.pk if organisation else None,
            owner_service=service.pk if service else None,
        ),
    )


def assert_refused(response):
    assert response.status_code in (200, 403)  # the form shows the error, or a plain refusal
    assert not Layer.objects.filter(slug="bancs").exists()


def assert_created(response, organisation, service):
    assert response.status_code == 302, response.content.decode()[:3000]
    layer = Layer.objects.get(slug="bancs")
    assert layer.owner_organisation == organisation
    assert layer.owner_service == service
    layer.delete()


def test_a_service_manager_gives_a_layer_only_to_a_service_they_manage(client, demo):
    client.force_login(demo.manager)  # manager of Libercourt's Voirie
    page = client.get(ADD).content.decode()
    assert choices(page, "owner_organisation") == {str(demo.libercourt.pk)}
    assert choices(page, "owner_service") == {str(demo.voirie.pk)}
    assert_refused(add(client, demo.cahc, demo.eau))  # forged: another organisation
    assert_refused(add(client, demo.cahc, None))
    assert_refused(add(client, demo.libercourt, demo.eclairage))  # a service they do not manage
    assert_refused(add(client, demo.libercourt, None))  # they could not manage it afterwards
    assert_refused(add(client, demo.cahc, demo.voirie))  # their service, another owner
    assert_created(add(client, demo.libercourt, demo.voirie), demo.libercourt, demo.voirie)


def test_a_libercourt_admin_keeps_layers_in_libercourt(client, demo):
    client.force_login(demo.lib_admin)
    page = client.get(ADD).content.decode()
    assert choices(page, "owner_organisation") == {str(demo.libercourt.pk)}
    assert str(demo.eclairage.pk) in choices(page, "owner_service")
    assert str(demo.eau.pk) not in choices(page, "owner_service")
    assert_refused(add(client, demo.cahc, demo.dechets))
    assert_refused(add(client, demo.cahc, None))
    assert_refused(add(client, demo.libercourt, demo.eau))  # a CAHC service under Libercourt
    assert_created(add(client, demo.libercourt, demo.eclairage), demo.libercourt, demo.eclairage)
    assert_created(add(client, demo.libercourt, None), demo.libercourt, None)


def test_a_cahc_admin_keeps_layers_in_the_cahc(client, demo):
    client.force_login(demo.cahc_admin)
    page = client.get(ADD).content.decode()
    assert choices(page, "owner_organisation") == {str(demo.cahc.pk)}
    assert str(demo.voirie.pk) not in choices(page, "owner_service")
    assert_refused(add(client, demo.libercourt, demo.voirie))
    assert_refused(add(client, demo.libercourt, None))
    assert_created(add(client, demo.cahc, demo.dechets), demo.cahc, demo.dechets)


def test_the_operator_gives_any_layer_to_anyone_but_not_to_a_foreign_service(client, demo):
    client.force_login(demo.superuser)
    page = client.get(ADD).content.decode()
    assert {str(demo.libercourt.pk), str(demo.cahc.pk)} <= choices(page, "owner_organisation")
    response = add(client, demo.cahc, demo.voirie)
    assert_refused(response)
    assert "n&#x27;appartient pas à l&#x27;organisation propriétaire" in response.content.decode()
    assert_created(add(client, demo.cahc, demo.eau), demo.cahc, demo.eau)
    assert_created(add(client, demo.libercourt, demo.voirie), demo.libercourt, demo.voirie)


def test_a_manager_cannot_move_their_layer_to_another_organisation(client, demo, roads_layer):
    layer = roads_layer("bancs-voirie", "Bancs")
    url = f"/admin/gis_layers/layer/{layer.pk}/change/"
    for user, organisation, service in (
        (demo.manager, demo.cahc, demo.eau),
        (demo.manager, demo.libercourt, demo.eclairage),
        (demo.lib_admin, demo.cahc, demo.dechets),
    ):
        client.force_login(user)
        data = layer_data(
            slug=layer.slug, owner_organisation=organisation.pk, owner_service=service.pk
        )
        response = client.post(url, data)
        assert response.status_code in (200, 403)
        layer.refresh_from_db()
        assert (layer.owner_organisation, layer.owner_service) == (demo.libercourt, demo.voirie)
    client.force_login(demo.manager)  # a legitimate edit still goes through
    data = layer_data(
        slug=layer.slug,
        name="Bancs publics",
        owner_organisation=demo.libercourt.pk,
        owner_service=demo.voirie.pk,
    )
    assert client.post(url, data).status_code == 302
    layer.refresh_from_db()
    assert layer.name == "Bancs publics"


def test_the_permission_module_decides_role_by_role(demo):
    from accounts.permissions import can_own_layer_as

    lib, cahc = demo.libercourt.pk, demo.cahc.pk
    cases = [
        (demo.manager, lib, demo.voirie.pk, True),
        (demo.manager, lib, demo.eclairage.pk, False),
        (demo.manager, lib, None, False),
        (demo.manager, cahc, demo.eau.pk, False),
        (demo.lib_admin, lib, None, True),
        (demo.lib_admin, lib, demo.eclairage.pk, True),
        (demo.lib_admin, cahc, None, False),
        (demo.lib_admin, lib, demo.eau.pk, False),
        (demo.cahc_admin, cahc, demo.dechets.pk, True),
        (demo.cahc_admin, lib, None, False),
        (demo.agent, lib, demo.voirie.pk, False),  # an agent, not the manager
        (demo.citizen, lib, None, False),
        (demo.superuser, cahc, demo.eau.pk, True),
        (demo.superuser, cahc, demo.voirie.pk, False),
    ]
    for user, organisation, service, expected in cases:
        assert can_own_layer_as(user, organisation, service) is expected, (user, service)
