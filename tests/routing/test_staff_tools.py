"""Staff tools: the routing simulator, gaps and conflicts."""

from html import unescape

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from routing.models import RoutingRule
from routing.selectors import coverage_gaps, rule_conflicts
from routing.services import categories_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(demo):
    categories_load()


def square(x, y, half):
    centre = Point(x, y, srid=4326).transform(2154, clone=True)
    return MultiPolygon(
        Polygon.from_bbox((centre.x - half, centre.y - half, centre.x + half, centre.y + half)),
        srid=2154,
    )


def test_simulator_shows_the_decision_and_its_trace(client, demo, catalogue):
    client.force_login(demo.agent)
    page = client.get(
        "/intranet/aiguillage/simulateur/",
        {"category": "fuite-eau", "lon": "3.01054", "lat": "50.480422"},
    ).content.decode()
    assert "Eau et assainissement" in page and "Justification" in page
    assert "compétence" in page


def test_simulator_reports_bad_coordinates_in_the_form(client, demo, catalogue):
    client.force_login(demo.agent)
    page = client.get(
        "/intranet/aiguillage/simulateur/", {"category": "fuite-eau", "lon": "abc", "lat": "95"}
    ).content.decode()
    assert "Justification" not in page and 'role="alert"' in page


def test_simulator_is_for_staff(client, demo, catalogue):
    client.force_login(demo.citizen)
    assert client.get("/intranet/aiguillage/simulateur/").status_code == 403


def test_no_gap_with_the_demo_data_then_a_gap_appears(demo, catalogue):
    # Libercourt and the CAHC have services; the other communes are not on the portal.
    assert coverage_gaps() == []
    demo.libercourt.services.update(is_active=False)
    gaps = coverage_gaps()
    assert {g.insee for g in gaps} == {"62907"}
    assert {g.domain for g in gaps} >= {"Voirie et déplacements", "Éclairage public"}
    assert "Collecte des déchets" not in {g.domain for g in gaps}  # the CAHC still covers it


def test_conflicts_are_rules_of_equal_priority_that_overlap(demo, catalogue):
    voirie = demo.voirie.domains.first()
    a = RoutingRule.objects.create(
        name="Centre A", priority=100, target_service=demo.voirie, geom=square(3.0105, 50.4804, 200)
    )
    b = RoutingRule.objects.create(
        name="Centre B",
        priority=100,
        target_service=demo.services["libercourt:accueil"],
        geom=square(3.0110, 50.4806, 200),
    )
    far = RoutingRule.objects.create(
        name="Loin", priority=100, target_service=demo.voirie, geom=square(2.985, 50.475, 100)
    )
    other = RoutingRule.objects.create(
        name="Autre priorité",
        priority=90,
        target_service=demo.voirie,
        geom=square(3.0105, 50.4804, 200),
    )
    for rule in (a, b, far, other):
        rule.domains.add(voirie)
    conflicts = rule_conflicts()
    assert [(c.first, c.second) for c in conflicts] == [("Centre A", "Centre B")]
    assert conflicts[0].where.endswith("m² en commun")


def test_coverage_page(client, demo, catalogue):
    client.force_login(demo.lib_admin)
    page = client.get("/intranet/aiguillage/couverture/").content.decode()
    assert "Aucun trou" in page and "Aucun conflit" in page
    assert "Toutes les règles actives s'appliquent." in page


def test_rules_of_different_organisations_never_conflict(demo, catalogue):
    """route_for keeps only the rules of the organisation that holds the decision: a rule of
    Libercourt and one of the CAHC cannot compete, unless one reaches beyond competence."""
    libercourt = RoutingRule.objects.create(
        name="Libercourt", priority=10, target_service=demo.voirie
    )
    cahc = RoutingRule.objects.create(name="CAHC", priority=10, target_service=demo.dechets)
    assert rule_conflicts() == []
    cahc.beyond_competence = True  # the operator's rule: it competes with every organisation's
    cahc.save(update_fields=["beyond_competence"])
    assert [(c.first, c.second) for c in rule_conflicts()] == [(libercourt.name, cahc.name)]


def test_the_coverage_check_lists_the_rules_without_effect(client, demo, catalogue):
    """Rules written before rules were bound to competences (routing.0003) may name what their
    organisation is not competent for: route_for discards them there, the page says so."""
    from organisations.models import Domain
    from routing.selectors import rules_without_effect

    lighting = Domain.objects.get(slug="eclairage-public")
    legacy = RoutingRule.objects.create(
        name="Éclairage par la CAHC", priority=10, target_service=demo.dechets
    )
    legacy.domains.add(lighting)
    fine = RoutingRule.objects.create(name="Voirie", priority=10, target_service=demo.voirie)
    fine.domains.add(demo.voirie.domains.first())
    idle = rules_without_effect()
    assert [(r.name, r.organisation) for r in idle] == [(legacy.name, demo.cahc.name)]
    assert "n'est pas compétente pour « Éclairage public »" in idle[0].reason
    client.force_login(demo.lib_admin)
    page = client.get("/intranet/aiguillage/couverture/").content.decode()
    assert "Règles sans effet" in page and "Éclairage par la CAHC" in page
    legacy.is_active = False
    legacy.save(update_fields=["is_active"])
    assert rules_without_effect() == []


@pytest.fixture
def streetlights(demo):
    from gis_layers.services import demo_layers_load

    demo_layers_load()
    categories_load()  # links the categories to the demo layers


@pytest.mark.parametrize("typed", ["EP-0154", "ep-0154", "  Ep-0154 "])
def test_simulator_takes_the_equipment_code_agents_know(client, demo, streetlights, typed):
    from gis_layers.models import Feature

    light = Feature.objects.get(layer__slug="eclairage-public", ref="EP-0154")
    where = light.geom.transform(4326, clone=True)
    client.force_login(demo.agent)
    page = unescape(
        client.get(
            "/intranet/aiguillage/simulateur/",
            {
                "category": "lampadaire-eteint",
                "lon": f"{where.x:.6f}",
                "lat": f"{where.y:.6f}",
                "equipment": typed,
            },
        ).content.decode()
    )
    assert 'role="alert"' not in page
    assert "Justification" in page
    assert "EP-0154 (" in page and "appartient à" in page  # the owner's step of the trace


def test_simulator_keeps_taking_the_internal_id(client, demo, streetlights):
    from gis_layers.models import Feature

    light = Feature.objects.get(layer__slug="eclairage-public", ref="EP-0154")
    client.force_login(demo.agent)
    page = unescape(
        client.get(
            "/intranet/aiguillage/simulateur/",
            {
                "category": "lampadaire-eteint",
                "lon": "3.01054",
                "lat": "50.480422",
                "equipment": str(light.pk),
            },
        ).content.decode()
    )
    assert "EP-0154 (" in page and "Justification" in page


@pytest.mark.parametrize(
    ("category", "typed", "error"),
    [
        ("lampadaire-eteint", "EP-9999", "Aucun équipement ne porte le numéro « EP-9999 »"),
        ("nid-de-poule", "EP-0154", "ne relève pas de la catégorie « Nid-de-poule"),
    ],
)
def test_simulator_says_why_an_equipment_code_is_refused(
    client, demo, streetlights, category, typed, error
):
    client.force_login(demo.agent)
    page = unescape(
        client.get(
            "/intranet/aiguillage/simulateur/",
            {"category": category, "lon": "3.01054", "lat": "50.480422", "equipment": typed},
        ).content.decode()
    )
    assert "Justification" not in page
    alert = page.split('class="errors" role="alert">', 1)[1].split("</span>", 1)[0]
    assert error in alert
