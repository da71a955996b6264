"""Known places (WGS84) used across tests."""

from django.contrib.gis.geos import Point

TOWN_HALL = Point(3.01054, 50.480422, srid=4326)  # Libercourt town hall
STREET = Point(3.0145, 50.4815, srid=4326)  # a street in Libercourt, 300 m east
PHALEMPIN = Point(3.0225, 50.5135, srid=4326)  # a neighbouring commune, outside the CAHC
