"""Reads on the territory. Point-in-commune tests run in PostGIS on the indexed boundaries."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection

from .models import Commune, Epci

COMMUNES_ATTRIBUTION = "IGN – ADMIN EXPRESS-COG 2018 ; INSEE COG 2026 – Licence Ouverte (Etalab)"


def commune_at(location: Point) -> Commune | None:
    """The commune (member or neighbour) whose boundary covers ``location``.

    Tested on the subdivided pieces of the boundaries (CommunePart), through their GiST index.

    A point exactly on a shared border is covered by both communes; the lowest INSEE code wins so
    that the answer is stable.
    """
    return (
        Commune.objects.filter(parts__geom__covers=location)
        .select_related("epci")
        .order_by("insee")
        .first()
    )


def epci_covering(location: Point) -> Epci | None:
    return Epci.objects.filter(geom__covers=location).first()


def member_communes():
    return Commune.objects.filter(epci__isnull=False).select_related("organisation")


def communes_geojson(*, members_only: bool = True) -> str:
    """The communes as a GeoJSON FeatureCollection in WGS84, built by PostGIS as text."""
    sql = f"""
        SELECT json_build_object(
            'type', 'FeatureCollection',
            'attribution', %s,
            'features', COALESCE(json_agg(json_build_object(
                'type', 'Feature',
                'id', c.insee,
                'geometry', ST_AsGeoJSON(ST_Transform(c.geom, {settings.GRC_API_SRID}), 5)::json,
                'properties', json_build_object(
                    'insee', c.insee, 'name', c.name, 'population', c.population,
                    'member', c.epci_id IS NOT NULL,
                    'on_board', COALESCE(o.on_board, false)
                )
            ) ORDER BY c.name), '[]'::json)
        )::text
        FROM territory_commune c
        LEFT JOIN organisations_organisation o ON o.commune_id = c.id
        WHERE %s OR c.epci_id IS NOT NULL
    """  # noqa: S608 - only settings integers are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [COMMUNES_ATTRIBUTION, not members_only])
        return cursor.fetchone()[0]
