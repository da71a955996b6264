"""The layer admin: who may give a layer to which organisation and service, role by role.

Three guards, each asserted by its message: the form offers each user only the organisations and
services they may choose (a forged value is "not a valid choice"); the permission module
(``can_own_layer_as``) refuses a combination of offered values the user may not choose; the
layer's own rule (``Layer.clean``) refuses a service of another organisation than the owner,
whoever chooses. No layer is created, none changes owner.
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


GUARDS = {
    "Sélectionnez un choix valide": "choice",  # the form's narrowed list
    "Vous ne pouvez pas confier une couche": "permission",  # permissions.can_own_layer_as
    "n'appartient pas à l'organisation propriétaire": "invariant",  # Layer.clean
}


def guards(response) -> dict[str, str]:
    """Which guard refused each field (``__all__``: the whole form), from the form's errors."""
    assert response.status_code == 200, response.status_code
    errors = response.context["adminform"].form.errors
    fired = {}
    for field, messages in errors.items():
        for message in messages:
            (guard,) = [g for fragment, g in GUARDS.items() if fragment in message] or [message]
            fired[field] = guard
    return fired


def assert_refused(response, **expected):
    assert guards(response) == expected
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
    assert_refused(  # forged: another organisation and its service
        add(client, demo.cahc, demo.eau), owner_organisation="choice", owner_service="choice"
    )
    assert_refused(add(client, demo.cahc, None), owner_organisation="choice")
    assert_refused(add(client, demo.cahc, demo.voirie), owner_organisation="choice")
    # a service they do not manage
    assert_refused(add(client, demo.libercourt, demo.eclairage), owner_service="choice")
    # no service: they could not manage the layer afterwards
    assert_refused(add(client, demo.libercourt, None), __all__="permission")
    assert_created(add(client, demo.libercourt, demo.voirie), demo.libercourt, demo.voirie)


def test_a_libercourt_admin_keeps_layers_in_libercourt(client, demo):
    client.force_login(demo.lib_admin)
    page = client.get(ADD).content.decode()
    assert choices(page, "owner_organisation") == {str(demo.libercourt.pk)}
    assert str(demo.eclairage.pk) in choices(page, "owner_service")
    assert str(demo.eau.pk) not in choices(page, "owner_service")
    assert_refused(
        add(client, demo.cahc, demo.dechets), owner_organisation="choice", owner_service="choice"
    )
    assert_refused(add(client, demo.cahc, None), owner_organisation="choice")
    assert_refused(add(client, demo.libercourt, demo.eau), owner_service="choice")
    assert_created(add(client, demo.libercourt, demo.eclairage), demo.libercourt, demo.eclairage)
    assert_created(add(client, demo.libercourt, None), demo.libercourt, None)


def test_a_cahc_admin_keeps_layers_in_the_cahc(client, demo):
    client.force_login(demo.cahc_admin)
    page = client.get(ADD).content.decode()
    assert choices(page, "owner_organisation") == {str(demo.cahc.pk)}
    assert str(demo.voirie.pk) not in choices(page, "owner_service")
    assert_refused(
        add(client, demo.libercourt, demo.voirie),
        owner_organisation="choice",
        owner_service="choice",
    )
    assert_refused(add(client, demo.libercourt, None), owner_organisation="choice")
    assert_created(add(client, demo.cahc, demo.dechets), demo.cahc, demo.dechets)


def test_the_operator_gives_any_layer_to_anyone_but_not_to_a_foreign_service(client, demo):
    client.force_login(demo.superuser)
    page = client.get(ADD).content.decode()
    assert {str(demo.libercourt.pk), str(demo.cahc.pk)} <= choices(page, "owner_organisation")
    assert_refused(add(client, demo.cahc, demo.voirie), owner_service="invariant")
    assert_created(add(client, demo.cahc, demo.eau), demo.cahc, demo.eau)
    assert_created(add(client, demo.libercourt, demo.voirie), demo.libercourt, demo.voirie)


def test_a_manager_cannot_move_their_layer_to_another_organisation(client, demo, roads_layer):
    layer = roads_layer("bancs-voirie", "Bancs")
    url = f"/admin/gis_layers/layer/{layer.pk}/change/"
    for user, organisation, service, expected in (
        (demo.manager, demo.cahc, demo.eau, {"owner_organisation", "owner_service"}),
        (demo.manager, demo.libercourt, demo.eclairage, {"owner_service"}),
        (demo.lib_admin, demo.cahc, demo.dechets, {"owner_organisation", "owner_service"}),
    ):
        client.force_login(user)
        data = layer_data(
            slug=layer.slug, owner_organisation=organisation.pk, owner_service=service.pk
        )
        assert guards(client.post(url, data)) == dict.fromkeys(expected, "choice")
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


def test_a_layers_service_belongs_to_its_owner_organisation(demo):
    from django.core.exceptions import ValidationError

    layer = Layer(
        slug="bancs",
        name="Bancs",
        owner_organisation=demo.cahc,
        owner_service=demo.voirie,
        geometry_type="Point",
    )
    with pytest.raises(ValidationError) as refused:
        layer.full_clean()
    assert list(refused.value.message_dict) == ["owner_service"]
    layer.owner_service = demo.eau
    layer.full_clean()


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
        (demo.lib_admin, lib, demo.eau.pk, True),  # Layer.clean refuses a CAHC service
        (demo.cahc_admin, cahc, demo.dechets.pk, True),
        (demo.cahc_admin, lib, None, False),
        (demo.agent, lib, demo.voirie.pk, False),  # an agent, not the manager
        (demo.citizen, lib, None, False),
        (demo.superuser, cahc, demo.eau.pk, True),
        (demo.superuser, cahc, demo.voirie.pk, True),  # likewise
        (demo.manager, cahc, demo.voirie.pk, True),  # likewise
    ]
    for user, organisation, service, expected in cases:
        assert can_own_layer_as(user, organisation, service) is expected, (user, service)
