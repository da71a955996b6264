"""Rules are edited in the admin with a map widget; what is drawn routes at once."""

import json

import pytest
from django.contrib.gis.geos import Point

from routing.models import RoutingRule
from routing.selectors import route_for
from routing.services import categories_load

pytestmark = pytest.mark.django_db


def test_an_administrator_draws_a_rule_area_that_routes(client, demo):
    categories_load()
    client.force_login(demo.lib_admin)
    page = client.get("/admin/routing/routingrule/add/").content.decode()
    assert "leaflet" in page.lower() and "cdn.jsdelivr" not in page  # vendored Leaflet, no CDN
    square = {
        "type": "MultiPolygon",
        "coordinates": [
            [
                [
                    [3.0090, 50.4795],
                    [3.0120, 50.4795],
                    [3.0120, 50.4815],
                    [3.0090, 50.4815],
                    [3.0090, 50.4795],
                ]
            ]
        ],
    }
    voirie = demo.voirie.domains.get()
    response = client.post(
        "/admin/routing/routingrule/add/",
        {
            "name": "Place de la mairie",
            "description": "Travaux du centre",
            "priority": 200,
            "target_service": demo.services["libercourt:accueil"].pk,
            "domains": [voirie.pk],
            "geom": json.dumps(square),
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = RoutingRule.objects.get(name="Place de la mairie")
    assert rule.geom.srid == 2154
    from routing.models import Category

    decision = route_for(
        location=Point(3.01054, 50.480422, srid=4326),
        category=Category.objects.select_related("domain").get(slug="nid-de-poule"),
    )
    assert decision.rule_id == rule.pk


def test_an_administrator_cannot_target_another_organisation(client, demo):
    client.force_login(demo.lib_admin)
    response = client.post(
        "/admin/routing/routingrule/add/",
        {
            "name": "Intrus",
            "priority": 1,
            "target_service": demo.eau.pk,
            "is_active": "on",
        },
    )
    assert response.status_code == 200 and not RoutingRule.objects.exists()


def test_agents_read_rules_but_do_not_edit_them(client, demo):
    client.force_login(demo.agent)
    assert client.get("/admin/routing/routingrule/").status_code == 200
    assert client.get("/admin/routing/routingrule/add/").status_code == 403
