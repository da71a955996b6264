"""Reverse geocoding from our own tables: what a point tapped on a map is near."""

import io

import pytest
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db import connection, transaction

from addresses import selectors
from addresses.selectors import place_near
from addresses.services import addresses_import_ban_csv

pytestmark = pytest.mark.django_db

HEADER = "id;numero;rep;nom_voie;code_postal;code_insee;nom_commune;x;y"
ROWS = [  # a BAN file's columns; positions in Lambert-93, as the BAN gives them
    "62907_0150_00012;12;;Rue Jean Jaurès;62820;62907;Libercourt;698120.5;7042720.3",
    "62907_0150_00012_bis;12;bis;Rue Jean Jaurès;62820;62907;Libercourt;698125.0;7042725.0",
    "62907_0150_00003;3;;Rue Jean Jaurès;62820;62907;Libercourt;698100.0;7042700.0",
    "62907_0150_99999;;;Rue Jean Jaurès;62820;62907;Libercourt;698112.0;7042716.0",  # no number
]


def lonlat(x: float, y: float) -> tuple[float, float]:
    """A Lambert-93 position as the map sends it (longitude, latitude)."""
    point = Point(x, y, srid=2154)
    point.transform(4326)
    return point.x, point.y


@pytest.fixture
def addresses(db):
    addresses_import_ban_csv(io.StringIO("\n".join([HEADER, *ROWS])), insee_codes={"62907"})


def test_a_point_near_a_house_is_named_by_its_address_in_one_query(
    addresses, django_assert_num_queries
):
    # 12 m from no. 12, 18 m from 12 bis and from no. 3, 4 m from a street point without number
    lon, lat = lonlat(698110.0, 7042715.0)
    with django_assert_num_queries(1):
        near = place_near(lon, lat)
    assert near.kind == "address" and (near.number, near.suffix) == (12, "")
    assert 11 < near.distance_m < 13
    assert near.text == "Près du 12 Rue Jean Jaurès, Libercourt"
    bis = place_near(*lonlat(698127.0, 7042727.0))
    assert bis.text == "Près du 12 bis Rue Jean Jaurès, Libercourt"


def test_beyond_100_m_of_any_address_the_nearest_named_street_then_the_commune(addresses):
    from gis_layers.models import Feature
    from gis_layers.services import demo_layers_load

    demo_layers_load()
    streets = Feature.objects.filter(layer__slug="voirie", properties__has_key="nom")
    far = streets.annotate(d=Distance("geom", Point(698110, 7042715, srid=2154))).order_by("-d")
    street = far.first()  # the street farthest from the addresses above
    on_it = street.geom.point_on_surface
    spot = Point(on_it.x + 20, on_it.y, srid=2154)
    nearest = streets.annotate(d=Distance("geom", spot)).order_by("d").first()
    near = place_near(*lonlat(spot.x, spot.y))
    assert near.kind == "street" and near.city == "Libercourt"
    assert near.street == nearest.properties["nom"]
    assert near.distance_m <= 20.5
    assert near.text == f"Près de : {nearest.properties['nom']}, Libercourt"
    # with no street around either: only the commune
    streets.delete()
    assert place_near(*lonlat(spot.x, spot.y)).text == "À Libercourt"


def test_outside_every_commune_nothing_is_said(addresses):
    assert place_near(2.35, 48.85) is None  # Paris: not a commune we know


def test_each_lookup_can_use_its_spatial_index(addresses):
    """Three K-nearest lookups by `<->` on the storage SRID: none needs to read a whole table."""
    lon, lat = lonlat(698110.0, 7042715.0)
    params = {
        "lon": lon,
        "lat": lat,
        "srid": 2154,
        "address_m": selectors.NEAR_ADDRESS_M,
        "street_m": selectors.NEAR_STREET_M,
        "streets": "voirie",
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + selectors.NEAREST_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for table in ("addresses_address", "gis_layers_feature", "territory_communepart"):
        assert f"Seq Scan on {table}" not in plan, plan
        assert table in plan
