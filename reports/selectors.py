"""Reads on reports: the public page of one report, with what each reader may see."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from accounts import permissions
from routing.models import Category
from routing.questions import answers_display
from tracking.filters import RequestFilters
from tracking.models import Event

from .models import Photo, Report
from .positions import shows_place


@dataclass(frozen=True)
class ReportView:
    report: Report
    events: list[Event]
    may_see_private: bool  # contact details, internal notes (the handling agents, the author)
    is_handler: bool
    photos: list[dict]
    answers: list[tuple[str, str]]  # to the category's extra questions; private like contacts
    # address, equipment, description and photos: public unless the category is about a home
    shows_place: bool = True


def report_by_reference(reference: str) -> Report | None:
    """A report with what its pages need."""
    return (
        Report.objects.select_related(
            "category", "category__domain", "service", "service__organisation", "commune"
        )
        .prefetch_related("photos")
        .filter(reference=reference)
        .first()
    )


def photo_by_name(report: Report, name: str) -> Photo | None:
    """A photo of the report by its public name (the photo's or its thumbnail's file name)."""
    if not name.endswith(".jpg") or "/" in name or len(name) > 60:
        return None
    stem = name.removesuffix(".jpg").removesuffix(".thumb")
    photo = report.photos.filter(file__endswith=f"/{stem}.jpg").first()
    if photo is None or name not in (photo.name, photo.thumbnail.rsplit("/", 1)[-1]):
        return None
    return photo


def photo_links(
    report: Report, *, include_hidden: bool = False, access_key: str = ""
) -> list[dict]:
    """Links to a report's photos and thumbnails (the photo itself until its thumbnail is made).
    The photos of a report hidden from the public (or of a category about a home) carry the
    reader's key, so that its author still sees them on the page their key opens."""
    hidden = report.is_hidden or not shows_place(report, may_see_private=False)
    suffix = f"?cle={access_key}" if access_key and hidden else ""
    links = []
    for photo in report.photos.all():
        if photo.is_hidden and not include_hidden:
            continue
        thumb = photo.thumbnail.rsplit("/", 1)[-1] if photo.thumbnail else photo.name
        links.append(
            {
                "url": reverse("reports:photo", args=[report.reference, photo.name]) + suffix,
                "thumbnail_url": reverse("reports:photo", args=[report.reference, thumb]) + suffix,
                "width": photo.width,
                "height": photo.height,
            }
        )
    return links


def report_access(report: Report, *, user: Any, access_key: str = "") -> tuple[bool, bool] | None:
    """(may see private data, handles it) for this reader, or None if they may not see it."""
    is_handler = permissions.can_act_on_request(user, report)
    # Compared as bytes: a key typed with accents is simply wrong, never an error.
    has_key = bool(access_key) and constant_time_compare(access_key, report.access_key)
    may_see_private = has_key or permissions.can_view_request_private(user, report)
    if report.is_hidden and not may_see_private:
        return None
    return may_see_private, is_handler


def report_version(report: Report, *, view: str) -> str:
    """A tag that changes whenever what a reader sees of the report changes (status, a new
    timeline line, a photo hidden or shown, its category's place made public or not): the
    live page polls it with If-None-Match."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT max(id) FROM tracking_event WHERE request_id = %(id)s), "
            "(SELECT count(*) FILTER (WHERE NOT is_hidden) FROM reports_photo "
            " WHERE report_id = %(id)s), "
            "c.updated_at, k.public_position "
            "FROM tracking_citizenrequest c LEFT JOIN routing_category k ON k.id = c.category_id "
            "WHERE c.id = %(id)s",
            {"id": report.pk},
        )
        last_event, photos, updated, position = cursor.fetchone() or (None, 0, None, None)
    stamp = updated.timestamp() if updated else 0
    raw = f"{report.pk}:{last_event}:{photos}:{stamp}:{position}:{view}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:24] + '"'


def report_page(report: Report, *, user: Any, access_key: str = "") -> ReportView | None:
    """What a reader sees of a report; None when they may not see it at all (hidden report).

    Everybody sees the public part (status, category, place, public timeline); the tracking
    link's key or being the author shows the contact details given; agents handling it see all.
    """
    access = report_access(report, user=user, access_key=access_key)
    if access is None:
        return None
    may_see_private, is_handler = access
    events: QuerySet[Event] = report.events.select_related("service_after__organisation")
    if not is_handler:
        # The requester also reads what was written for them only (their own messages).
        shown = Q(is_public=True) | Q(for_requester=True) if may_see_private else Q(is_public=True)
        events = events.filter(shown)
    place = shows_place(report, may_see_private=may_see_private)
    return ReportView(
        report=report,
        events=list(events),
        may_see_private=may_see_private,
        is_handler=is_handler,
        photos=photo_links(
            report, include_hidden=is_handler, access_key=access_key if may_see_private else ""
        )
        if place
        else [],
        shows_place=place,
        answers=(
            answers_display(report.category.extra_questions, report.answers)
            if may_see_private
            else []
        ),
    )


def reports_of(user: Any, *, limit: int = 200) -> list[Report]:
    """A citizen's own reports (as author), newest first, with their timelines."""
    return list(
        Report.objects.filter(author=user)
        .select_related("category", "service__organisation", "commune", "author")
        .defer("commune__geom")
        .prefetch_related("events", "photos")
        .order_by("-created_at")[:limit]
    )


@dataclass(frozen=True)
class EquipmentHit:
    """An equipment a citizen may report on, and the point of it nearest to where they are."""

    id: int
    ref: str
    layer: str
    layer_name: str
    lon: float
    lat: float
    distance_m: float | None

    def as_dict(self) -> dict:
        return asdict(self)


_EQUIPMENT_SQL = """
    SELECT f.id, f.ref, l.slug, l.name,
           ST_X(ST_Transform(c, 4326)), ST_Y(ST_Transform(c, 4326)), {distance}
    FROM gis_layers_feature f
    JOIN gis_layers_layer l ON l.id = f.layer_id
    CROSS JOIN LATERAL (SELECT {snap} AS c) snap
    WHERE f.layer_id = ANY(%(layers)s) AND {where}
    ORDER BY {order}
    LIMIT %(limit)s
"""
_POINT = "ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 2154)"


def _public_layer_ids(category: Category) -> list[int]:
    """The category's equipment layers that citizens may see (public ones only)."""
    return list(category.layers.filter(visibility="public").values_list("pk", flat=True))


def _equipment(sql: str, params: dict) -> list[EquipmentHit]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        EquipmentHit(
            pk,
            ref,
            slug,
            name,
            round(lon, 6),
            round(lat, 6),
            None if distance is None else round(distance, 1),
        )
        for pk, ref, slug, name, lon, lat, distance in rows
    ]


def equipment_near(
    category: Category, *, lon: float, lat: float, radius_m: float = 60, limit: int = 15
) -> list[EquipmentHit]:
    """The category's equipment within ``radius_m`` of a point, nearest first (GiST KNN); for
    lines and areas (a street, a park) the point of it nearest to the citizen."""
    layers = _public_layer_ids(category)
    if not layers:
        return []
    sql = _EQUIPMENT_SQL.format(
        snap=f"ST_ClosestPoint(f.geom, {_POINT})",
        distance=f"ST_Distance(f.geom, {_POINT})",
        where=f"ST_DWithin(f.geom, {_POINT}, %(radius)s)",
        order=f"f.geom <-> {_POINT}, f.id",
    )
    return _equipment(
        sql, {"layers": layers, "lon": lon, "lat": lat, "radius": radius_m, "limit": limit}
    )


def equipment_by_ref(category: Category, ref: str) -> list[EquipmentHit]:
    """The equipment whose plate reads ``ref`` (case, spaces and dashes ignored) in the
    category's layers: the non-map way to say where the problem is. The exact form uses the
    (layer, ref) index; the loose one scans the category's layers (thousands of rows)."""
    layers = _public_layer_ids(category)
    exact = ref.strip().upper()[:100]
    loose = "".join(c for c in exact if c.isalnum())  # "lib ep 42" finds "LIB-EP-42"
    if not layers or not loose:
        return []
    sql = _EQUIPMENT_SQL.format(
        snap="ST_PointOnSurface(f.geom)",
        distance="NULL::float",
        where="(f.ref = %(exact)s "
        "OR regexp_replace(upper(f.ref), '[^A-Z0-9]', '', 'g') = %(loose)s)",
        order="f.id",
    )
    return _equipment(sql, {"layers": layers, "exact": exact, "loose": loose, "limit": 5})


DUPLICATE_RADIUS_M = 50


def open_reports_near(
    category: Category, *, lon: float, lat: float, equipment_id: int | None = None, limit: int = 5
) -> list[dict]:
    """Open, visible reports of the same category within DUPLICATE_RADIUS_M of the point, or
    on the same equipment: what the citizen may join ("me too") instead of filing again.

    Anybody may ask this for any point: the radius and the distance shown are measured from
    the reports' public points (reports.positions), and a category about a home offers none
    (each home's problem is its own; listing them would tell where neighbours live; its
    reports have no public point, and ``services.report_me_too`` refuses them)."""
    from tracking.models import OPEN_STATUSES

    if not category.place_is_public:
        return []
    sql = """
        WITH p AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 2154) AS g)
        SELECT c.reference, c.created_at, c.status, r.equipment_label, r.address_label,
               round(ST_Distance(c.public_location, p.g)::numeric, 0),
               (SELECT count(*) FROM tracking_follower f
                WHERE f.request_id = c.id AND f.is_me_too AND NOT f.follows_only)
        FROM reports_report r
        JOIN tracking_citizenrequest c ON c.id = r.citizenrequest_ptr_id
        CROSS JOIN p
        WHERE c.category_id = %(category)s AND c.status = ANY(%(open)s) AND NOT r.is_hidden
          AND c.public_location IS NOT NULL
          AND (ST_DWithin(c.public_location, p.g, %(radius)s)
               OR (%(equipment)s::bigint IS NOT NULL AND r.equipment_id = %(equipment)s))
        ORDER BY (r.equipment_id IS NOT DISTINCT FROM %(equipment)s) DESC,
                 c.public_location <-> p.g, c.reference
        LIMIT %(limit)s
    """
    params = {
        "lon": lon,
        "lat": lat,
        "category": category.pk,
        "open": sorted(OPEN_STATUSES),
        "radius": DUPLICATE_RADIUS_M,
        "equipment": equipment_id,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {
            "reference": ref,
            "created_at": created,
            "status": status,
            "equipment_label": equipment,
            "address_label": address,
            "distance_m": int(distance),
            "me_too": me_too,
        }
        for ref, created, status, equipment, address, distance, me_too in rows
    ]


MAP_MAX_FEATURES = 5000
CLUSTER_BELOW_ZOOM = 16  # from this zoom on, each report is its own point
CLUSTER_PIXELS = 60  # a cluster gathers what falls in a cell of this many screen pixels


# Reports are placed (and the viewport tested) by their stored public points
# (reports.positions), through their GiST index; a category about a home has no public point,
# so it is neither a point nor counted in any cluster.
_MAP_SQL = """
    WITH env AS (
        SELECT ST_Transform(
            ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326), 2154) AS g
    ), hits AS (
        SELECT c.reference, c.status, c.created_at, k.slug AS category, k.name AS category_name,
               ST_Transform(c.public_location, 3857) AS g
        FROM tracking_citizenrequest c
        JOIN reports_report r ON r.citizenrequest_ptr_id = c.id
        JOIN routing_category k ON k.id = c.category_id
        CROSS JOIN env
        WHERE NOT r.is_hidden AND ST_Intersects(c.public_location, env.g)
          AND (cardinality(%(categories)s::text[]) = 0 OR k.slug = ANY(%(categories)s))
          AND (cardinality(%(statuses)s::text[]) = 0 OR c.status = ANY(%(statuses)s))
          AND (%(start)s::timestamptz IS NULL OR c.created_at >= %(start)s::timestamptz)
          AND (%(end)s::timestamptz IS NULL OR c.created_at < %(end)s::timestamptz)
    ), cells AS (
        SELECT count(*) AS n,
               CASE WHEN count(*) = 1 THEN min(reference) END AS reference,
               CASE WHEN count(*) = 1 THEN min(status) END AS status,
               CASE WHEN count(*) = 1 THEN min(category) END AS category,
               CASE WHEN count(*) = 1 THEN min(category_name) END AS category_name,
               CASE WHEN count(*) = 1 THEN min(created_at) END AS created_at,
               ST_Transform(ST_Centroid(ST_Collect(g)), 4326) AS centre
        FROM hits
        GROUP BY CASE WHEN %(cell)s > 0 THEN ST_SnapToGrid(g, %(cell)s) ELSE g END,
                 CASE WHEN %(cell)s > 0 THEN NULL ELSE reference END
        ORDER BY n DESC, reference
        LIMIT %(limit)s
    )
    SELECT COALESCE(sum(n), 0)::int, count(*)::int,
           COALESCE(string_agg(json_build_object(
               'type', 'Feature',
               'geometry', ST_AsGeoJSON(centre, 6)::json,
               'properties', json_strip_nulls(json_build_object(
                   'count', n, 'reference', reference, 'status', status,
                   'category', category, 'category_name', category_name,
                   'created_at',
                   to_char(created_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD'))))::text,
               ','), '')
    FROM cells
"""


def reports_map(bbox, *, zoom: int, filters: RequestFilters) -> tuple[int, int, str]:
    """The public map of reports in a viewport, built by PostGIS: one point per report from
    zoom CLUSTER_BELOW_ZOOM on, clusters on a grid of about CLUSTER_PIXELS screen pixels below.
    Public fields and public points only (reports.positions); hidden reports and categories
    about a home never. Returns (reports counted, features, features as comma-separated GeoJSON
    text)."""
    cell = 0.0 if zoom >= CLUSTER_BELOW_ZOOM else 40_075_016.7 / (256 * 2**zoom) * CLUSTER_PIXELS
    params = {
        "minx": bbox.minx,
        "miny": bbox.miny,
        "maxx": bbox.maxx,
        "maxy": bbox.maxy,
        "categories": list(filters.categories),
        "statuses": list(filters.statuses),
        "start": filters.bounds()[0],
        "end": filters.bounds()[1],
        "cell": cell,
        "limit": MAP_MAX_FEATURES,
    }
    with connection.cursor() as cursor:
        cursor.execute(_MAP_SQL, params)
        total, features, text = cursor.fetchone()
    return total, features, text


PUBLIC_LIST_PAGE_SIZE = 20


def reports_public_page(
    filters: RequestFilters, page: Any, *, per_page: int = PUBLIC_LIST_PAGE_SIZE
):
    """One page (a Django ``Page``; numbering starts at 1, a number out of range gives the last
    page) of the visible reports matching the filters, newest first: the list beside the map,
    the map's non-map path. Two queries: the count and the page."""
    from django.core.paginator import Paginator

    paginator = Paginator(_public_list_queryset(filters), per_page)
    return paginator.get_page(page)


def _public_list_queryset(filters: RequestFilters) -> QuerySet[Report]:
    qs = Report.objects.filter(filters.q(), is_hidden=False).select_related("category", "commune")
    return qs.only(
        "reference",
        "status",
        "created_at",
        "address_label",
        "equipment_label",
        "category__name",
        "category__public_position",  # a home's address is not listed
        "commune__name",
    ).order_by("-created_at", "-pk")


PLACE_EQUIPMENT_RADIUS_M = 30


def report_public_place(report: Report) -> dict | None:
    """Where the tracking page's map shows the report, for every reader: its public point
    (reports.positions: snapped to the public grid, never the exact one), in WGS84, with the
    category's public equipment within PLACE_EQUIPMENT_RADIUS_M of it (their numbers are
    written beside the map). None for a category about a home or a report without a point:
    no map at all."""
    from core.maps import reproject

    if report.public_location is None or not shows_place(report, may_see_private=False):
        return None
    point = reproject(report.public_location, 4326)
    lon, lat = round(point.x, 6), round(point.y, 6)
    equipment = (
        equipment_near(
            report.category, lon=lon, lat=lat, radius_m=PLACE_EQUIPMENT_RADIUS_M, limit=8
        )
        if report.category
        else []
    )
    return {
        "lon": lon,
        "lat": lat,
        "status": report.status,
        "equipment": [
            {"ref": e.ref, "layer_name": e.layer_name, "lon": e.lon, "lat": e.lat,
             "distance_m": round(e.distance_m or 0)}
            for e in equipment
            if e.ref
        ],
    }  # fmt: skip
