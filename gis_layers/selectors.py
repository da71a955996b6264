"""Reads on layers. Every collection is built by PostGIS as text; Python only frames it.

Traps avoided on purpose: Django's psycopg 3 backend parses ``json`` results into Python objects
(so every builder returns ``text``), and ``to_jsonb(row)``/``json_build_object`` per feature are
several times slower than concatenating ``ST_AsGeoJSON`` text with the stored JSONB as text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from psycopg.adapt import Loader

from accounts.permissions import layers_filter_for
from core.db import bound_cursor

from .models import Layer

API_SRID = settings.GRC_API_SRID
STORAGE_SRID = settings.GRC_STORAGE_SRID
GEOJSON_PRECISION = 6  # about 0.1 m in WGS84
MVT_EXTENT = 4096
MVT_BUFFER = 64


@dataclass(frozen=True)
class BBox:
    """A WGS84 bounding box (lon/lat), already validated."""

    minx: float
    miny: float
    maxx: float
    maxy: float

    def as_params(self) -> list[float]:
        return [self.minx, self.miny, self.maxx, self.maxy]


@dataclass(frozen=True)
class ItemsPage:
    features: bytes  # the features, comma-separated GeoJSON objects (no brackets), UTF-8
    number_returned: int
    # how many features match in all, when it is known without counting them (None: unknown)
    number_matched: int | None
    last_id: int | None = None  # the page's last feature id (a keyset page continues after it)
    more: bool | None = None  # whether features follow the page (None: compare with matched)


class _UTF8BytesLoader(Loader):
    def load(self, data) -> bytes:
        return data


def layers_visible_to(principal: Any) -> QuerySet[Layer]:
    """Layers the caller may read (see accounts.permissions.layers_filter_for)."""
    return (
        Layer.objects.filter(layers_filter_for(principal))
        .distinct()
        .select_related("owner_organisation", "owner_service", "domain")
    )


# What the data endpoints (items, item, tiles) need of a layer: access, links, ETag, properties.
DATA_FIELDS = (
    "id",
    "slug",
    "name",
    "visibility",
    "owner_organisation_id",
    "owner_service_id",
    "attribute_schema",
    "attribution",
    "is_synthetic",
    "feature_count",
    "data_version",
    "geometry_type",
    "tile_properties",
)


@cache
def _data_columns() -> tuple[tuple, str]:
    fields = tuple(f for f in Layer._meta.concrete_fields if f.attname in DATA_FIELDS)
    return fields, ", ".join(f"l.{connection.ops.quote_name(f.column)}" for f in fields)


def _layer_from_row(row) -> Layer:
    """A Layer with ``DATA_FIELDS`` loaded from their columns (the others deferred)."""
    fields, _ = _data_columns()
    values = []
    for field, value in zip(fields, row, strict=True):
        for convert in field.get_db_converters(connection):  # JSON text to Python, as the ORM
            value = convert(value, field.get_col(Layer._meta.db_table), connection)
        values.append(value)
    return Layer.from_db(connection.alias, [f.attname for f in fields], values)


def layer_for_data(slug: str) -> Layer | None:
    """The layer a page, feature or tile request names, with ``DATA_FIELDS`` loaded (the others
    are deferred, loaded if ever read), or None.

    Every page and tile starts with it, so it is a statement prepared on the connection
    (core.db.bound_cursor) and a model built from its row, not an ORM query compiled anew each
    time: on gunicorn after an idle pause, 0.4-0.5 ms instead of 1.6-1.9 ms (bench/README.md).
    """
    _, columns = _data_columns()
    with bound_cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM gis_layers_layer l WHERE l.slug = %s", [slug])
        row = cursor.fetchone()
    return None if row is None else _layer_from_row(row)


def _properties_sql(properties: list[str] | None, alias: str = "f") -> tuple[str, list[Any]]:
    """SQL for a feature's properties: the visible identifier first, then the stored attributes."""
    if properties is None:
        return f"(jsonb_build_object('ref', {alias}.ref) || {alias}.properties)::text", []
    pairs = ", ".join([f"%s, {alias}.properties -> %s"] * len(properties))
    params: list[Any] = []
    for name in properties:
        params += [name, name]
    if not properties:
        return f"jsonb_build_object('ref', {alias}.ref)::text", []
    return f"jsonb_build_object('ref', {alias}.ref, {pairs})::text", params


def _feature_sql(properties: list[str] | None, alias: str = "f") -> tuple[str, list[Any]]:
    props_sql, params = _properties_sql(properties, alias)
    sql = (
        f'\'{{"type":"Feature","id":\' || {alias}.id || \',"geometry":\' || '
        f"ST_AsGeoJSON(ST_Transform({alias}.geom, {API_SRID}), {GEOJSON_PRECISION}) || "
        f"',\"properties\":' || {props_sql} || '}}'"
    )
    return sql, params


def _where(layer_sql: str, layer_params: list[Any], bbox: BBox | None) -> tuple[str, list[Any]]:
    """The features of a page: ``layer_sql`` chooses the layer (``f.layer_id = %s``).

    ST_Intersects alone: PostGIS adds its index condition (``&&``) and estimates its share of
    rows once. Written twice, ``&&`` and ST_Intersects were taken for independent filters and
    the matches of a bbox underestimated 4.7 times (44,000 for 208,000), which led PostgreSQL
    to sort every match where walking the ids in order stops at the page's end."""
    if bbox is None:
        return layer_sql, layer_params
    envelope = f"ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, {API_SRID}), {STORAGE_SRID})"
    return f"{layer_sql} AND ST_Intersects(f.geom, {envelope})", [*layer_params, *bbox.as_params()]


def _page_sql(
    layer_sql: str,
    layer_params: list[Any],
    *,
    bbox: BBox | None,
    limit: int,
    offset: int,
    after: int | None,
    properties: list[str] | None,
) -> tuple[str, list[Any]]:
    """A page: how many features it holds, their GeoJSON texts joined by commas, its last id
    and whether more follow (one row more is read to know).

    The page's cost follows the page, not the bbox:
    - the statement calls grc_serial_plan() (migration 0008): no parallel workers, whose start
      cost 15-20 ms on a 100-feature page, and the planner then counts a bbox's matches
      right (a parallel plan shows them per worker);
    - PostgreSQL chooses between walking the layer's ids in order, stopping at the page's end
      (a large bbox), and the bbox's matches through the GiST index kept in a top-N sort of
      the page's size (a small one), on an estimate that is right (``_where``);
    - only the id and the stored GeoJSON (migration 0003) are read and sorted, never the
      geometry or the attributes: the sort of whole rows spilled 176,000 of them to disk for a
      10,000-feature page. A property selection chooses the page's ids alone and builds the
      features of the rows kept.
    ``after`` continues after that id (keyset paging: page 100 costs what page 1 does);
    ``offset`` skips matches (costs what it skips).
    """
    where, where_params = _where(layer_sql, layer_params, bbox)
    keyset, keyset_params = (" AND f.id > %s", [after]) if after is not None else ("", [])
    window = (
        f"FROM gis_layers_feature f WHERE {where}{keyset} AND grc_serial_plan() "
        f"ORDER BY f.id LIMIT %s OFFSET %s"
    )
    window_params = [*where_params, *keyset_params, limit + 1, offset]
    if properties is None:
        feature_sql, feature_params = "p.geojson", []
        rows = f"SELECT f.id, f.geojson {window}"
        join = ""
    else:
        feature_sql, feature_params = _feature_sql(properties, alias="g")
        rows = f"SELECT f.id {window}"
        join = " JOIN gis_layers_feature g ON g.id = p.id"
    sql = (
        f"SELECT count(*) FILTER (WHERE p.n <= %s) AS returned, "
        f"COALESCE(string_agg({feature_sql}, ',' ORDER BY p.id) FILTER (WHERE p.n <= %s), '') "
        f"AS features, max(p.id) FILTER (WHERE p.n <= %s) AS last_id, count(*) > %s AS more "
        f"FROM (SELECT i.*, row_number() OVER (ORDER BY i.id) AS n FROM ({rows}) i) p{join}"
    )
    return sql, [limit, *feature_params, limit, limit, limit, *window_params]


def items_sql(
    layer: Layer,
    *,
    bbox: BBox | None,
    limit: int,
    offset: int,
    properties: list[str] | None,
    after: int | None = None,
) -> tuple[str, list[Any]]:
    """The statement behind a page of a layer already read (see public_page_sql)."""
    return _page_sql(
        "f.layer_id = %s",
        [layer.pk],
        bbox=bbox,
        limit=limit,
        offset=offset,
        after=after,
        properties=properties,
    )


def public_page_sql(
    slug: str, *, bbox: BBox | None, limit: int, offset: int, after: int | None = None
) -> tuple[str, list[Any]]:
    """The statement behind a page of a public layer (also run by the benchmark through psql):
    the layer's row by its slug, and in the same statement its page when the layer is public.

    For any other layer the page's scan is not executed (a one-time filter on the layer's
    visibility, tested with EXPLAIN): who may read it is decided in Python afterwards
    (accounts.permissions), and its page read by items_sql() only then.
    """
    _, columns = _data_columns()
    page_sql, page_params = _page_sql(
        "f.layer_id = l.id AND l.visibility = 'public'",
        [],
        bbox=bbox,
        limit=limit,
        offset=offset,
        after=after,
        properties=None,
    )
    sql = (
        f"SELECT {columns}, p.returned, p.features, p.last_id, p.more FROM gis_layers_layer l "
        f"LEFT JOIN LATERAL ({page_sql}) p ON true WHERE l.slug = %s"
    )
    return sql, [*page_params, slug]


def _fetch_page(cursor, sql: str, params: list[Any]) -> tuple | None:
    # The page is megabytes of UTF-8 that go straight to the response: load it as bytes,
    # skipping a decode to str and the re-encode (the SQL stays the same, psql runs it too).
    # The layer's own text columns are varchar, which this loader leaves alone.
    cursor.cursor.adapters.register_loader("text", _UTF8BytesLoader)
    cursor.execute(sql, params)
    return cursor.fetchone()


def _page(
    layer: Layer,
    bbox: BBox | None,
    position: int,
    returned: int,
    text,
    last_id: int | None,
    more: bool,
) -> ItemsPage:
    """The page, with how many features match in all when that is known without counting:
    the layer's stored count without a bbox, or the features before the page and in it when
    none follow. Otherwise ``number_matched`` is None and left out of the response, as OGC
    API - Features allows: counting a bbox's matches costs more than its page (a count of a
    bbox holding 176,000 features, more than building the 10,000 of its first page; a count
    capped at 1,000, three times a 100-feature page). ``position``: the features before it."""
    if bbox is None:
        matched = layer.feature_count
    elif not more:
        matched = position + returned
    else:
        matched = None
    return ItemsPage(
        features=bytes(text),
        number_returned=returned,
        number_matched=matched,
        last_id=last_id,
        more=more,
    )


def layer_items(
    layer: Layer,
    *,
    bbox: BBox | None,
    limit: int,
    offset: int,
    properties: list[str] | None,
    after: int | None = None,
    position: int | None = None,
) -> ItemsPage:
    """A page of a layer's features as GeoJSON text. ``after``: the last id of the previous
    page (keyset paging), ``position`` the features before it (carried by the page token)."""
    sql, params = items_sql(
        layer, bbox=bbox, limit=limit, offset=offset, properties=properties, after=after
    )
    with connection.cursor() as cursor:
        returned, text, last_id, more = _fetch_page(cursor, sql, params)
        before = offset + (position or 0)
        return _page(layer, bbox, before, returned, text, last_id, more)


def layer_with_public_page(
    slug: str,
    *,
    bbox: BBox | None,
    limit: int,
    offset: int,
    after: int | None = None,
    position: int | None = None,
) -> tuple[Layer | None, ItemsPage | None]:
    """The layer a page request names (or None), and its page if the layer is public: one
    round trip instead of two for the requests of public layers (bench/README.md)."""
    sql, params = public_page_sql(slug, bbox=bbox, limit=limit, offset=offset, after=after)
    with connection.cursor() as cursor:
        row = _fetch_page(cursor, sql, params)
        if row is None:
            return None, None
        layer = _layer_from_row(row[:-4])
        if layer.visibility != Layer.Visibility.PUBLIC:
            return layer, None
        before = offset + (position or 0)
        return layer, _page(layer, bbox, before, *row[-4:])


def layer_feature(
    layer: Layer, feature_id: int, *, properties: list[str] | None = None
) -> str | None:
    """One feature as GeoJSON text, or None."""
    feature_sql, params = ("f.geojson", []) if properties is None else _feature_sql(properties)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {feature_sql} FROM gis_layers_feature f WHERE f.layer_id = %s AND f.id = %s",
            [*params, layer.pk, feature_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


# The most features a tile carries, by zoom: a 256-pixel tile shows no more, and a low-zoom
# tile of a million-point layer would otherwise cost seconds and tens of megabytes. Clients
# zoom in (or page through the items API).
TILE_FEATURE_CAPS = ((10, 10_000), (13, 25_000), (22, 50_000))  # (up to zoom, cap)
POINT_TYPES = ("Point", "MultiPoint")
EARTH_CIRCUMFERENCE_M = 40_075_016.686
# Web Mercator metres to ground metres at 50.5° N (cos 50.5°); further south in France a
# quarter pixel is slightly more than the tolerance: simplification stays on the safe side.
MERCATOR_TO_GROUND = 0.64


def tile_feature_cap(z: int) -> int:
    return next(cap for zoom, cap in TILE_FEATURE_CAPS if z <= zoom)


def tile_properties(layer: Layer) -> list[str]:
    """The attributes a layer's tiles carry besides its identifier (Layer.tile_properties,
    those of its schema only)."""
    names = layer.property_names
    return [n for n in (layer.tile_properties or []) if n != "ref" and n in names]


def tile_sql(layer: Layer, z: int, x: int, y: int) -> tuple[str, list[Any]]:
    """The one statement behind a vector tile (also run by the benchmark).

    Each feature carries its id, its identifier (``ref``) and the layer's tile properties
    (Layer.tile_properties), not every attribute: what the map styles need. Lines and areas
    are simplified to a quarter of a tile pixel before they are reprojected. At most
    ``tile_feature_cap(z)`` features. There is no ORDER BY (sorting the rows cost more than
    the rest of a dense tile): the statement runs without parallel workers (layer_tile), so
    the same data and plan give the same bytes, and the ETag is weak (tile_etag).
    """
    columns = "f.id, f.ref"
    params: list[Any] = [z, x, y, z, x, y, MVT_BUFFER / MVT_EXTENT]
    properties = tile_properties(layer)
    if properties:
        pairs = ", ".join(["%s, f.properties -> %s"] * len(properties))
        columns += f", jsonb_strip_nulls(jsonb_build_object({pairs})) AS properties"
        props_params = [v for name in properties for v in (name, name)]
    else:
        props_params = []
    geom = "f.geom"
    simplify_params: list[Any] = []
    if layer.geometry_type not in POINT_TYPES:
        # a quarter of a pixel of a 4,096-unit tile at this zoom, in Lambert-93 metres
        geom = "ST_Simplify(f.geom, %s, true)"
        simplify_params = [EARTH_CIRCUMFERENCE_M / 2**z / MVT_EXTENT / 4 * MERCATOR_TO_GROUND]
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(%s, %s, %s) AS tile,
                   ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => %s), {STORAGE_SRID}) AS query
        )
        SELECT ST_AsMVT(t, %s, {MVT_EXTENT}, 'geom', 'id') FROM (
            SELECT {columns},
                   ST_AsMVTGeom(ST_Transform({geom}, 3857), bounds.tile,
                                {MVT_EXTENT}, {MVT_BUFFER}, true) AS geom
            FROM gis_layers_feature f, bounds
            WHERE f.layer_id = %s AND f.geom && bounds.query AND grc_serial_plan()
            LIMIT %s
        ) t
        WHERE t.geom IS NOT NULL
    """
    return sql, [
        *params,
        layer.slug,
        *props_params,
        *simplify_params,
        layer.pk,
        tile_feature_cap(z),
    ]


def layer_tile(layer: Layer, z: int, x: int, y: int) -> bytes:
    sql, params = tile_sql(layer, z, x, y)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        data = cursor.fetchone()[0]
    return bytes(data) if data is not None else b""


def tile_version(layer: Layer) -> str:
    """What a tile's bytes depend on besides its place: the layer's data and its tile
    properties. Tile URLs carry it (``?v=``), so that a cache may keep them long."""
    digest = hashlib.sha256(json.dumps(tile_properties(layer)).encode()).hexdigest()[:8]
    return f"{layer.data_version}.{digest}"


def layer_extent_wgs84(layer: Layer) -> list[float] | None:
    """The layer's stored extent as [minx, miny, maxx, maxy] in WGS84."""
    if layer.extent is None:
        return None
    extent = layer.extent.transform(API_SRID, clone=True).extent
    return [round(v, 6) for v in extent]


def layer_etag(layer: Layer, *parts: Any) -> str:
    """A strong ETag from the layer's data version and the normalised request (no query needed)."""
    raw = "|".join(str(p) for p in (layer.pk, layer.data_version, *parts))
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'
