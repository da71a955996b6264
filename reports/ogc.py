"""Reports as one more OGC API collection ("signalements"): public fields only, built by PostGIS.

Registered in ReportsConfig.ready() with gis_layers.collections (which never imports reports).
Hidden and held reports never appear; no name, email, phone, description or photo. The geometry
is the stored public point (reports.positions): snapped to the public grid, null for a category
about a home, which a bbox then never matches; the bbox is tested on the public point (its GiST
index), not the exact one.
"""

from __future__ import annotations

from django.db import connection

from gis_layers.collections import ExtraCollection
from gis_layers.selectors import BBox, ItemsPage

COLLECTION_ID = "signalements"

_FEATURE = """json_build_object(
    'type', 'Feature', 'id', c.reference,
    'geometry', ST_AsGeoJSON(ST_Transform(c.public_location, 4326), 6)::json,
    'properties', json_build_object(
        'reference', c.reference, 'category', k.slug, 'category_name', k.name,
        'status', c.status,
        'created_at', to_char(c.created_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD'),
        'closed_at', to_char(c.closed_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD'),
        'commune', t.name, 'service', s.name))::text"""

_FROM = """
    FROM tracking_citizenrequest c
    JOIN reports_report r ON r.citizenrequest_ptr_id = c.id
    JOIN routing_category k ON k.id = c.category_id
    LEFT JOIN territory_commune t ON t.id = c.commune_id
    LEFT JOIN organisations_service s ON s.id = c.service_id
    CROSS JOIN LATERAL (SELECT ST_Transform(ST_MakeEnvelope(
        %(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326), 2154) AS g) env
    WHERE NOT r.is_hidden AND c.location IS NOT NULL
      AND (%(minx)s::float IS NULL OR ST_Intersects(c.public_location, env.g))
"""

_PAGE_SQL = (
    "SELECT count(*), COALESCE(string_agg(feature, ',' ORDER BY id), '') "
    "FROM (SELECT c.id, "
    + _FEATURE
    + " AS feature "
    + _FROM
    + " ORDER BY c.id LIMIT %(limit)s OFFSET %(offset)s) page"
)
_COUNT_SQL = "SELECT count(*) " + _FROM
_ITEM_SQL = "SELECT " + _FEATURE + _FROM + " AND c.reference = %(reference)s"


def _params(bbox: BBox | None) -> dict:
    if bbox is None:
        return {"minx": None, "miny": None, "maxx": None, "maxy": None}
    return {"minx": bbox.minx, "miny": bbox.miny, "maxx": bbox.maxx, "maxy": bbox.maxy}


def report_items(bbox: BBox | None, limit: int, offset: int) -> ItemsPage:
    params = {**_params(bbox), "limit": limit, "offset": offset}
    with connection.cursor() as cursor:
        cursor.execute(_PAGE_SQL, params)
        returned, text = cursor.fetchone()
        if offset == 0 and returned < limit:
            matched = returned
        else:
            cursor.execute(_COUNT_SQL, params)
            matched = cursor.fetchone()[0]
    return ItemsPage(features=text.encode(), number_returned=returned, number_matched=matched)


def report_item(reference: str) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(_ITEM_SQL, {**_params(None), "reference": reference})
        row = cursor.fetchone()
    return row[0] if row else None


def reports_collection() -> ExtraCollection:
    return ExtraCollection(
        id=COLLECTION_ID,
        title="Signalements des habitants",
        description="Signalements déposés sur le portail (voirie, éclairage, propreté…), champs "
        "publics seulement : numéro, catégorie, état, dates, commune, service. Aucune donnée "
        "personnelle ; les signalements masqués n'apparaissent pas.",
        items=report_items,
        item=report_item,
        extent=[2.88496, 50.36439, 3.08179, 50.51278],
        licence="Licence Ouverte 2.0 (Etalab)",
    )
