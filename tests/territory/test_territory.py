"""The CAHC territory as loaded from the real IGN/INSEE data."""

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from territory.models import Commune, Epci
from territory.selectors import commune_at, epci_covering
from territory.services import territory_load

pytestmark = pytest.mark.django_db

LIBERCOURT_TOWN_HALL = Point(3.01054, 50.480422, srid=4326)
PHALEMPIN = Point(3.0225, 50.5135, srid=4326)  # inside Phalempin (Nord), north of Libercourt


def test_fourteen_valid_member_communes_with_codes():
    members = Commune.objects.filter(epci__siren="246200299")
    assert members.count() == 14
    assert Commune.objects.filter(epci__isnull=True).count() == 25  # neighbours, for refusals
    libercourt = members.get(insee="62907")
    assert libercourt.name == "Libercourt"
    assert libercourt.siren == "216209072"
    assert libercourt.postal_codes == "62820"
    assert libercourt.geom.srid == 2154
    for commune in members:
        assert commune.geom.valid, commune.name


def test_member_communes_do_not_overlap():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.name, b.name, ST_Area(ST_Intersection(a.geom, b.geom))
               FROM territory_commune a JOIN territory_commune b
                 ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
               WHERE a.epci_id IS NOT NULL AND b.epci_id IS NOT NULL
                 AND ST_Area(ST_Intersection(a.geom, b.geom)) > 1.0"""
        )
        overlaps = cursor.fetchall()
    assert overlaps == []


def test_union_of_communes_is_the_cahc_boundary():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT ST_Area(e.geom), ST_Area(ST_SymDifference(e.geom, u.geom))
               FROM territory_epci e,
                    (SELECT ST_Union(geom) AS geom FROM territory_commune
                     WHERE epci_id IS NOT NULL) u"""
        )
        epci_area, difference = cursor.fetchone()
    assert 112e6 < epci_area < 113.5e6  # about 112.8 km2 (m2 in Lambert-93)
    assert difference < 100  # m2: identical up to coordinate rounding


def test_libercourt_town_hall_lies_in_libercourt():
    commune = commune_at(LIBERCOURT_TOWN_HALL.transform(2154, clone=True))
    assert commune is not None and commune.insee == "62907"
    assert commune.is_member
    # A point in WGS84 is reprojected by PostGIS in the lookup.
    assert commune_at(LIBERCOURT_TOWN_HALL).insee == "62907"


def test_phalempin_lies_outside_the_cahc_and_is_named():
    assert epci_covering(PHALEMPIN) is None
    commune = commune_at(PHALEMPIN)
    assert commune is not None
    assert commune.name == "Phalempin"
    assert commune.department == "59"
    assert not commune.is_member
    assert commune.epci_name == "CC Pévèle-Carembault"


def test_loading_twice_changes_nothing():
    before = (
        Commune.objects.count(),
        Epci.objects.count(),
        list(Commune.objects.values_list("pk", "insee")),
    )
    result = territory_load()
    assert result.created == 0
    assert (
        Commune.objects.count(),
        Epci.objects.count(),
        list(Commune.objects.values_list("pk", "insee")),
    ) == before


def test_communes_geojson_api(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        response = client.get("/api/territory/communes/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 14
    assert "IGN" in collection["attribution"] and "Licence Ouverte" in collection["attribution"]
    libercourt = next(f for f in collection["features"] if f["id"] == "62907")
    lon, lat = libercourt["geometry"]["coordinates"][0][0][0]
    assert 2.97 < lon < 3.04 and 50.46 < lat < 50.50  # WGS84, not Lambert-93
    again = client.get("/api/territory/communes/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
