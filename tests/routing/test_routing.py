"""Spatial routing: precedence, borders, neighbours, equipment owners, rules and their conflicts."""

import datetime as dt

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from gis_layers.models import Feature, Layer
from gis_layers.services import layer_replace_features
from routing.models import Category, RoutingRule
from routing.selectors import route_for
from routing.services import categories_load

pytestmark = pytest.mark.django_db

TOWN_HALL = Point(3.01054, 50.480422, srid=4326)


@pytest.fixture
def categories(demo):
    categories_load()
    return {c.slug: c for c in Category.objects.select_related("domain")}


def decide(lon, lat, category, **kw):
    return route_for(location=Point(lon, lat, srid=4326), category=category, **kw)


def test_lighting_in_libercourt_goes_to_the_town_lighting_service(
    categories, demo, django_assert_num_queries
):
    with django_assert_num_queries(1):  # one indexed PostGIS query for the whole decision
        decision = route_for(location=TOWN_HALL, category=categories["lampadaire-eteint"])
    assert decision.status == "routed"
    assert decision.service_id == demo.eclairage.pk
    assert [s["step"] for s in decision.trace] == ["territoire", "compétence", "service"]


def test_water_leak_in_libercourt_goes_to_the_agglomeration(categories, demo):
    decision = route_for(location=TOWN_HALL, category=categories["fuite-eau"])
    assert decision.service_id == demo.eau.pk
    assert decision.organisation_id == demo.cahc.pk


def test_cahc_equipment_inside_libercourt_goes_to_the_cahc(categories, demo):
    """A glass collection point in Libercourt belongs to the CAHC: its owner decides."""
    glass = Layer.objects.create(
        slug="bornes-verre-r", name="Bornes", owner_organisation=demo.cahc, geometry_type="Point"
    )
    layer_replace_features(
        layer=glass,
        rows=[(1, bytes(TOWN_HALL.wkb), {"ref": "BAV-001", "owner": "cahc"})],
        source_srid=4326,
        ref_field="ref",
        owner_field="owner",
    )
    feature = Feature.objects.get(layer=glass)
    # Even for a commune-domain category (a broken street-furniture item), the owner decides.
    decision = route_for(
        location=TOWN_HALL, category=categories["mobilier-degrade"], equipment_id=feature.pk
    )
    assert decision.organisation_id == demo.cahc.pk
    assert decision.service_id is not None and decision.equipment["ref"] == "BAV-001"
    assert any(s["step"] == "équipement" for s in decision.trace)


@pytest.mark.parametrize(
    ("lon", "lat", "insee", "name"),
    [
        (3.0225, 50.5135, "59462", "Phalempin"),
        (3.0350, 50.4850, "59630", "Wahagnies"),
        (2.9918, 50.5092, "59123", "Camphin-en-Carembault"),
    ],
)
def test_points_in_neighbouring_communes_are_refused_naming_them(categories, lon, lat, insee, name):
    decision = decide(lon, lat, categories["nid-de-poule"])
    assert decision.status == "outside"
    assert decision.commune == {"insee": insee, "name": name, "member": False}
    assert name in decision.message and "hors de la Communauté d'agglomération" in decision.message
    assert decision.service_id is None


def test_swapped_coordinates_get_a_hint(categories):
    decision = decide(50.480422, 3.01054, categories["nid-de-poule"])
    assert decision.status == "outside"
    assert "inversées" in decision.message and "Libercourt" in decision.message


@pytest.mark.parametrize(("a", "b"), [("62907", "62215"), ("62907", "62637")])  # Carvin, Oignies
def test_points_just_either_side_of_libercourt_borders(categories, demo, a, b):
    """40 m inside Libercourt goes to Libercourt; 40 m inside the neighbour does not."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH l AS (SELECT ST_GeometryN(ST_LineMerge(ST_Intersection(
                                  ST_Boundary(a.geom), ST_Boundary(c.geom))), 1) AS line,
                              a.geom AS ga, c.geom AS gc
                       FROM territory_commune a, territory_commune c
                       WHERE a.insee = %s AND c.insee = %s),
                 m AS (SELECT ST_LineInterpolatePoint(line, 0.5) AS p, ga, gc FROM l)
            SELECT ST_X(pa), ST_Y(pa), ST_X(pb), ST_Y(pb) FROM (
                SELECT ST_Transform(ST_PointOnSurface(
                           ST_Intersection(ga, ST_Buffer(p, 60))), 4326) AS pa,
                       ST_Transform(ST_PointOnSurface(
                           ST_Intersection(gc, ST_Buffer(p, 60))), 4326) AS pb
                FROM m) x
            """,
            [a, b],
        )
        ax, ay, bx, by = cursor.fetchone()
    inside = decide(ax, ay, categories["nid-de-poule"])
    across = decide(bx, by, categories["nid-de-poule"])
    assert inside.commune["insee"] == a and inside.service_id == demo.voirie.pk
    assert across.commune["insee"] == b and across.status == "not_on_board"  # Carvin, Oignies
    # The agglomeration's competences still route in a commune not on the portal.
    water = decide(bx, by, categories["fuite-eau"])
    assert water.status == "routed" and water.service_id == demo.eau.pk


def test_commune_not_on_board_returns_its_contact(categories):
    decision = decide(2.958199, 50.491451, categories["nid-de-poule"])  # Carvin town hall
    assert decision.status == "not_on_board"
    assert "Ville de Carvin" in decision.message and "1 rue Thibaut" in decision.message


def _area_around(point: Point, metres: float) -> MultiPolygon:
    centre = point.transform(2154, clone=True)
    return MultiPolygon(
        Polygon.from_bbox(
            (centre.x - metres, centre.y - metres, centre.x + metres, centre.y + metres)
        ),
        srid=2154,
    )


def test_a_rule_with_an_area_refines_the_competence(categories, demo):
    rule = RoutingRule.objects.create(
        name="Centre-ville : propreté par la police municipale",
        priority=200,
        target_service=demo.services["libercourt:police-municipale"],
        geom=_area_around(TOWN_HALL, 100),
    )
    rule.domains.add(categories["depot-sauvage"].domain)
    inside = route_for(location=TOWN_HALL, category=categories["depot-sauvage"])
    assert inside.rule_id == rule.pk and inside.service_name == "Police municipale"
    far = decide(3.0000, 50.4826, categories["depot-sauvage"])  # 800 m west, still Libercourt
    assert far.rule_id is None and far.service_name == "Propreté urbaine"
    other_domain = route_for(location=TOWN_HALL, category=categories["nid-de-poule"])
    assert other_domain.rule_id is None


def test_a_distance_rule_near_features_owned_by_someone_else(categories, demo):
    """Within 15 m of a road managed by the agglomeration, road reports go to the CAHC: roads
    are Libercourt's competence, so only the operator's rule reaching beyond it does that."""
    roads = Layer.objects.create(
        slug="voies-cahc",
        name="Voies d'intérêt communautaire",
        owner_organisation=demo.cahc,
        geometry_type="LineString",
    )
    from django.contrib.gis.geos import LineString

    line = LineString((3.0100, 50.4790), (3.0120, 50.4800), srid=4326)
    layer_replace_features(
        layer=roads,
        rows=[(1, bytes(line.wkb), {"ref": "VIC-1", "owner": "cahc"})],
        source_srid=4326,
        ref_field="ref",
        owner_field="owner",
    )
    rule = RoutingRule.objects.create(
        name="Voies communautaires",
        priority=150,
        target_service=demo.services["cahc:accueil"],
        near_layer=roads,
        near_distance_m=15,
        near_owner=demo.cahc,
    )
    rule.domains.add(categories["nid-de-poule"].domain)
    refining_only = decide(3.0110, 50.4795, categories["nid-de-poule"])
    assert refining_only.rule_id is None and refining_only.service_id == demo.voirie.pk
    RoutingRule.objects.filter(pk=rule.pk).update(beyond_competence=True)
    on_road = decide(3.0110, 50.4795, categories["nid-de-poule"])
    assert on_road.rule_id == rule.pk and on_road.organisation_id == demo.cahc.pk
    off_road = decide(3.0110, 50.4810, categories["nid-de-poule"])  # ~110 m away
    assert off_road.rule_id is None and off_road.service_id == demo.voirie.pk


def test_rules_of_equal_priority_are_flagged_as_a_conflict(categories, demo):
    for name, service in (("A", "libercourt:voirie"), ("B", "libercourt:accueil")):
        rule = RoutingRule.objects.create(
            name=name,
            priority=120,
            target_service=demo.services[service],
            geom=_area_around(TOWN_HALL, 50),
        )
        rule.categories.add(categories["nid-de-poule"])
    decision = route_for(location=TOWN_HALL, category=categories["nid-de-poule"])
    conflicts = [s for s in decision.trace if s["step"] == "conflit"]
    assert conflicts and set(conflicts[0]["rules"]) == {"A", "B"}
    assert decision.rule_id == RoutingRule.objects.get(name="A").pk  # stable: lowest id first


def test_rules_outside_their_validity_dates_do_not_apply(categories, demo):
    rule = RoutingRule.objects.create(
        name="Travaux été",
        priority=300,
        target_service=demo.services["libercourt:accueil"],
        valid_from=dt.date(2026, 7, 1),
        valid_until=dt.date(2026, 8, 31),
    )
    rule.categories.add(categories["nid-de-poule"])
    assert (
        route_for(
            location=TOWN_HALL, category=categories["nid-de-poule"], today=dt.date(2026, 7, 14)
        ).rule_id
        == rule.pk
    )
    assert (
        route_for(
            location=TOWN_HALL, category=categories["nid-de-poule"], today=dt.date(2026, 9, 1)
        ).rule_id
        is None
    )


def test_fallback_to_the_reception_service(categories, demo):
    demo.eclairage.is_active = False
    demo.eclairage.save()
    decision = route_for(location=TOWN_HALL, category=categories["lampadaire-eteint"])
    assert decision.service_name == "Accueil de la mairie"
    assert "accueil" in decision.trace[-1]["outcome"]


def test_a_commune_with_no_service_is_a_gap(categories, demo):
    demo.libercourt.services.update(is_active=False)  # on board, but no active service at all
    decision = route_for(location=TOWN_HALL, category=categories["nid-de-poule"])
    assert decision.status == "no_service" and decision.service_id is None
    assert "Ville de Libercourt" in decision.message
