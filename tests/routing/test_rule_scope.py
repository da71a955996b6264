"""Routing rules are bound to where their target organisation is competent.

A commune's administrator writes rules that refine the decisions of their own commune, in the
domains the commune is competent for; the CAHC's administrators within the agglomeration's
competences; a rule reaching beyond is the platform operator's. Checked when a rule is written
(the service and the admin) and again when a report is routed.
"""

import json

import pytest
from django.core.exceptions import ValidationError

from accounts.services import organisation_admin_grant, user_upsert
from organisations.models import Domain, Organisation
from organisations.services import service_upsert
from routing.models import RoutingRule
from routing.selectors import route_for
from routing.services import rule_save
from territory.models import Commune

from ..points import TOWN_HALL

pytestmark = pytest.mark.django_db

CARVIN_TOWN_HALL = (2.958199, 50.491451)
# A square around Libercourt's town hall, in WGS84 (as the admin's map widget sends it).
SQUARE_IN_LIBERCOURT = [
    [3.0090, 50.4795],
    [3.0120, 50.4795],
    [3.0120, 50.4815],
    [3.0090, 50.4815],
    [3.0090, 50.4795],
]


@pytest.fixture
def carvin(demo):
    """Carvin on the portal, with a lighting service and an administrator."""
    from types import SimpleNamespace

    organisation = Organisation.objects.get(commune__insee="62215")
    organisation.on_board = True
    organisation.save(update_fields=["on_board"])
    lighting = service_upsert(
        organisation=organisation,
        slug="eclairage",
        name="Éclairage public de Carvin",
        email="eclairage@carvin.example",
        phone="03 21 00 00 00",
        address="1 rue Thibaut, 62220 Carvin",
        opening_hours=[],
        domains=["eclairage-public"],
    )
    admin, _ = user_upsert(email="admin@carvin.example", password="Carvin-demo-2026")
    organisation_admin_grant(user=admin, organisation=organisation)
    return SimpleNamespace(organisation=organisation, lighting=lighting, admin=admin)


def _capture_rule(service, **fields):
    return RoutingRule(name="Tout pour nous", priority=100_000, target_service=service, **fields)


def _lighting_at(point, categories):
    from django.contrib.gis.geos import Point

    if not isinstance(point, Point):
        point = Point(*point, srid=4326)
    return route_for(location=point, category=categories["lampadaire-eteint"])


def test_a_commune_administrator_cannot_name_another_commune(carvin, categories):
    libercourt = Commune.objects.get(insee="62907")
    with pytest.raises(ValidationError) as refused:
        rule_save(user=carvin.admin, rule=_capture_rule(carvin.lighting), communes=[libercourt])
    assert refused.value.message_dict["communes"] == [
        "Ville de Carvin n'est compétente à Libercourt pour aucun domaine de la règle."
    ]
    assert not RoutingRule.objects.exists()


def test_a_commune_administrator_cannot_draw_an_area_over_another_commune(carvin, categories):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    area = MultiPolygon(Polygon(SQUARE_IN_LIBERCOURT), srid=4326)
    area.transform(2154)
    with pytest.raises(ValidationError) as refused:
        rule_save(user=carvin.admin, rule=_capture_rule(carvin.lighting, geom=area))
    assert "entièrement hors du territoire où Ville de Carvin" in str(
        refused.value.message_dict["geom"]
    )
    assert not RoutingRule.objects.exists()


def test_a_commune_administrator_cannot_take_a_domain_of_the_agglomeration(carvin, categories):
    waste = Domain.objects.get(slug="collecte-dechets")
    with pytest.raises(ValidationError) as refused:
        rule_save(user=carvin.admin, rule=_capture_rule(carvin.lighting), domains=[waste])
    assert "n'est pas compétente pour « Collecte des déchets »" in str(
        refused.value.message_dict["domains"]
    )


def test_an_unconditional_rule_only_refines_its_own_commune(carvin, categories, demo):
    """The attack of the review: no condition, a huge priority, one's own service."""
    rule = rule_save(user=carvin.admin, rule=_capture_rule(carvin.lighting))
    in_libercourt = _lighting_at(TOWN_HALL, categories)
    assert in_libercourt.service_id == demo.eclairage.pk and in_libercourt.rule_id is None
    (step,) = [s for s in in_libercourt.trace if s["step"] == "règle"]
    assert step["outcome"] == "écartée" and "Ville de Libercourt est compétente" in step["reason"]
    in_carvin = _lighting_at(CARVIN_TOWN_HALL, categories)
    assert in_carvin.rule_id == rule.pk and in_carvin.service_id == carvin.lighting.pk


def test_only_the_operator_writes_a_rule_beyond_competence(carvin, categories, demo):
    with pytest.raises(ValidationError) as refused:
        rule_save(user=carvin.admin, rule=_capture_rule(carvin.lighting, beyond_competence=True))
    assert "Seul l'opérateur" in str(refused.value.message_dict["beyond_competence"])
    rule = rule_save(
        user=demo.superuser, rule=_capture_rule(carvin.lighting, beyond_competence=True)
    )
    assert _lighting_at(TOWN_HALL, categories).rule_id == rule.pk  # the operator's decision


def test_an_administrator_cannot_route_to_another_organisation(carvin, categories, demo):
    with pytest.raises(ValidationError) as refused:
        rule_save(user=carvin.admin, rule=_capture_rule(demo.eclairage))
    assert "target_service" in refused.value.message_dict
    with pytest.raises(ValidationError):
        rule_save(user=demo.agent, rule=_capture_rule(demo.eclairage))  # an agent: no rule


def test_the_agglomeration_refines_its_own_competences_only(categories, demo):
    libercourt = Commune.objects.get(insee="62907")
    waste = Domain.objects.get(slug="collecte-dechets")
    lighting = Domain.objects.get(slug="eclairage-public")
    rule = rule_save(
        user=demo.cahc_admin,
        rule=_capture_rule(demo.dechets),
        domains=[waste],
        communes=[libercourt],
    )
    assert rule.pk
    with pytest.raises(ValidationError) as refused:
        rule_save(user=demo.cahc_admin, rule=_capture_rule(demo.dechets), domains=[lighting])
    assert "n'est pas compétente pour « Éclairage public »" in str(refused.value.message_dict)
    unconditional = rule_save(user=demo.cahc_admin, rule=_capture_rule(demo.dechets))
    decision = _lighting_at(TOWN_HALL, categories)
    assert decision.service_id == demo.eclairage.pk and unconditional.pk != decision.rule_id


def _admin_post(client, service, **extra):
    data = {"name": "Tout pour nous", "priority": 100_000, "target_service": service.pk}
    data.update({"is_active": "on", **extra})
    return client.post("/admin/routing/routingrule/add/", data)


def test_the_admin_refuses_what_the_service_refuses(client, carvin, categories):
    client.force_login(carvin.admin)
    libercourt = Commune.objects.get(insee="62907")
    response = _admin_post(client, carvin.lighting, communes=[libercourt.pk])
    assert response.status_code == 200 and not RoutingRule.objects.exists()
    assert "Ville de Carvin n&#x27;est compétente à Libercourt" in response.content.decode()
    square = {"type": "MultiPolygon", "coordinates": [[SQUARE_IN_LIBERCOURT]]}
    response = _admin_post(client, carvin.lighting, geom=json.dumps(square))
    assert response.status_code == 200 and not RoutingRule.objects.exists()
    assert "entièrement hors du territoire" in response.content.decode()


def test_through_the_admin_an_unconditional_rule_cannot_capture(client, carvin, categories, demo):
    client.force_login(carvin.admin)
    response = _admin_post(client, carvin.lighting, beyond_competence="on")  # a forged box
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.beyond_competence is False  # the field is not the administrator's
    assert _lighting_at(TOWN_HALL, categories).service_id == demo.eclairage.pk


def test_an_operator_rule_is_read_only_for_administrators(client, carvin, demo):
    rule = rule_save(
        user=demo.superuser, rule=_capture_rule(carvin.lighting, beyond_competence=True)
    )
    client.force_login(carvin.admin)
    url = f"/admin/routing/routingrule/{rule.pk}/change/"
    assert client.get(url).status_code == 200  # read
    response = client.post(url, {"name": "x", "priority": 1, "target_service": carvin.lighting.pk})
    assert response.status_code == 403
    assert RoutingRule.objects.get().name == "Tout pour nous"


@pytest.fixture
def legacy_rule(carvin, categories):
    """A Carvin rule naming Libercourt, as could be written before rules were bound to
    competences (routing.0003): stored without the check."""
    rule = _capture_rule(carvin.lighting)
    rule.save()
    rule.communes.add(Commune.objects.get(insee="62907"))
    return rule


def test_a_rule_beyond_its_scope_can_be_deactivated_by_its_administrator(carvin, legacy_rule):
    legacy_rule.priority = 1
    with pytest.raises(ValidationError):  # active, it must be within the scope
        rule_save(user=carvin.admin, rule=legacy_rule, communes=legacy_rule.communes.all())
    legacy_rule.is_active = False
    rule_save(user=carvin.admin, rule=legacy_rule, communes=legacy_rule.communes.all())
    legacy_rule.refresh_from_db()
    assert legacy_rule.is_active is False and legacy_rule.priority == 1


def test_only_its_organisation_deactivates_a_rule(carvin, legacy_rule, demo):
    legacy_rule.is_active = False
    with pytest.raises(ValidationError) as refused:
        rule_save(user=demo.lib_admin, rule=legacy_rule)
    assert "target_service" in refused.value.message_dict


def test_the_admin_deactivates_a_rule_beyond_its_scope_through_the_service(
    client, carvin, legacy_rule
):
    client.force_login(carvin.admin)
    libercourt = Commune.objects.get(insee="62907")
    url = f"/admin/routing/routingrule/{legacy_rule.pk}/change/"
    data = {"name": legacy_rule.name, "priority": 5, "target_service": carvin.lighting.pk}
    refused = client.post(url, {**data, "is_active": "on", "communes": [libercourt.pk]})
    assert refused.status_code == 200 and "est compétente à Libercourt" in refused.content.decode()
    response = client.post(url, {**data, "communes": [libercourt.pk]})  # the box unticked
    assert response.status_code == 302
    legacy_rule.refresh_from_db()
    assert legacy_rule.is_active is False and legacy_rule.priority == 5
    assert list(legacy_rule.communes.all()) == [libercourt]  # its conditions, kept


def test_the_admin_saves_a_rule_and_its_conditions_in_one_checked_write(client, carvin, categories):
    """The admin's save is the service's (rule_save): rule and conditions stored together."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(carvin.admin)
    carvin_commune = Commune.objects.get(insee="62215")
    with CaptureQueriesContext(connection) as queries:
        response = _admin_post(client, carvin.lighting, communes=[carvin_commune.pk])
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert list(rule.communes.all()) == [carvin_commune]
    # the check ran twice (the form's, for its errors, then the service's before writing)
    competences = [q for q in queries.captured_queries if "organisations_competence" in q["sql"]]
    assert len(competences) == 2
