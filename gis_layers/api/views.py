"""Layer APIs: plain GeoJSON per layer, OGC API - Features (Part 1) and Mapbox Vector Tiles.

Views only parse, check access through accounts.permissions and frame text that PostGIS built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import permissions
from accounts.authentication import AuthenticationError, principal_for
from gis_layers import selectors
from gis_layers.collections import extra_collection
from gis_layers.models import Layer
from gis_layers.selectors import ItemsPage

from .params import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    After,
    BadParameter,
    after_token,
    parse_after,
    parse_bbox,
    parse_int,
    parse_properties,
)

GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"


def error(status: int, code: str, description: str) -> JsonResponse:
    """An OGC-style exception body: always a reason, never a stack trace."""
    response = JsonResponse({"code": code, "description": description}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="portail"'
    return response


def _layer_for(
    request: HttpRequest, slug: str, *, data: bool, paged: bool
) -> tuple[Layer | None, ItemsPage | None]:
    """The layer a request names, and the page already read with it (or None)."""
    if paged and "properties" not in request.GET and "If-None-Match" not in request.headers:
        try:
            bbox, limit, offset, after = page_window(request, slug)
        except BadParameter:
            pass  # the view refuses it, after an unknown or forbidden layer is (404, 401, 403)
        else:
            return selectors.layer_with_public_page(
                slug, bbox=bbox, limit=limit, offset=offset, **_keyset(after)
            )
    if data:
        return selectors.layer_for_data(slug), None
    return Layer.objects.filter(slug=slug).order_by().first(), None


def _readable_layer(request: HttpRequest, slug: str, *, data: bool, paged: bool):
    """(layer, page or None) when the caller may read the layer, else the error response."""
    layer, page = _layer_for(request, slug, data=data, paged=paged)
    if layer is None:
        return error(404, "NotFound", f"Couche inconnue : {slug}.")
    if not permissions.can_read_layer(request.principal, layer):
        status, reason = permissions.layer_refusal(request.principal, layer)
        return error(status, "Unauthorized" if status == 401 else "Forbidden", reason)
    return layer, page


def api_view(
    func: Callable | None = None,
    *,
    data: bool = False,
    paged: bool = False,
    extra: Callable | None = None,
) -> Callable:
    """Authentication, parameter errors and the layer lookup shared by every layer endpoint.

    ``data=True`` (items, features, tiles) loads only the fields they use, by a prepared
    statement (selectors.layer_for_data): the lookup is on the path of every page and tile.
    ``paged=True`` (the items endpoints) reads the page of a public layer in the same statement
    as the layer (selectors.layer_with_public_page), handed to the view as ``page``; when the
    request selects properties or carries If-None-Match, or the layer is not public, the view
    reads its page itself after the checks. ``extra`` is the view for a collection that is not
    a layer (gis_layers.collections), called when the slug names one.
    """
    if func is None:
        return lambda f: api_view(f, data=data, paged=paged, extra=extra)

    @require_GET
    @wraps(func)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            request.principal = principal_for(request)
        except AuthenticationError as exc:
            return error(
                exc.status,
                "Unauthorized" if exc.status == 401 else "InvalidParameterValue",
                str(exc),
            )
        slug = kwargs.pop("slug", None)
        other = extra_collection(slug) if slug is not None and extra is not None else None
        if other is not None:
            try:
                return extra(request, other, *args, **kwargs)
            except BadParameter as exc:
                return error(400, "InvalidParameterValue", f"{exc.name} : {exc}")
        if slug is not None:
            found = _readable_layer(request, slug, data=data, paged=paged)
            if isinstance(found, HttpResponse):
                return found
            kwargs["layer"], page = found
            if paged:
                kwargs["page"] = page
        try:
            response = func(request, *args, **kwargs)
        except BadParameter as exc:
            return error(400, "InvalidParameterValue", f"{exc.name} : {exc}")
        if slug is not None:
            layer = kwargs["layer"]
            # Non-public data must not be kept by shared caches (a view may allow more for
            # public data: versioned tiles).
            if not response.has_header("Cache-Control") or layer.visibility != "public":
                response["Cache-Control"] = (
                    "public, max-age=60" if layer.visibility == "public" else "private, max-age=0"
                )
            response["Vary"] = "Authorization, Cookie"
        return response

    return wrapper


def _abs(request: HttpRequest, path: str, params: dict | None = None) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return request.build_absolute_uri(path + query)


def page_window(request: HttpRequest, slug: str | None = None):
    """bbox, limit, offset and ``after`` (the keyset token of a layer's next link, checked
    against the layer ``slug`` and the bbox; None for other collections) of an items request
    (BadParameter on a bad one)."""
    bbox = parse_bbox(request.GET.get("bbox"))
    limit = parse_int(
        request.GET.get("limit"), "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT
    )
    offset = parse_int(
        request.GET.get("offset"), "offset", default=0, minimum=0, maximum=MAX_OFFSET
    )
    after = parse_after(request.GET.get("after"), slug, bbox) if slug is not None else None
    if after is not None and offset:
        raise BadParameter("offset", "offset et after ne se combinent pas : suivez le lien next.")
    return bbox, limit, offset, after


def _keyset(after: After | None) -> dict:
    return {} if after is None else {"after": after.last_id, "position": after.position}


def items_response(
    request: HttpRequest,
    page,
    *,
    path: str,
    limit: int,
    offset: int,
    collection: tuple[str, str] | None = None,
    head: dict | None = None,
    next_after: str | None = None,
) -> HttpResponse:
    """A page of features (``page.features``: GeoJSON text built by PostGIS) framed as a
    FeatureCollection with its counts and self/next/prev links (also in ``Link``), and a link
    to its ``collection`` (path, title) for OGC API. Shared by the layers and the other
    collections (gis_layers.collections). ``next_after``: the keyset token of the next page
    (layers), else the next page is an offset; a keyset page has no ``prev`` link."""
    base = {k: v for k, v in request.GET.items() if k not in ("offset", "after", "f")}
    links = [
        {
            "href": request.build_absolute_uri(),
            "rel": "self",
            "type": GEOJSON,
            "title": "Cette page",
        },
    ]
    more = (
        page.more
        if page.more is not None
        else offset + page.number_returned < (page.number_matched or 0)
    )
    if more:
        following = {"after": next_after} if next_after else {"offset": offset + limit}
        links.append(
            {
                "href": _abs(request, path, {**base, **following}),
                "rel": "next",
                "type": GEOJSON,
                "title": "Page suivante",
            }
        )
    if offset > 0 and "after" not in request.GET:
        links.append(
            {
                "href": _abs(request, path, {**base, "offset": max(0, offset - limit)}),
                "rel": "prev",
                "type": GEOJSON,
                "title": "Page précédente",
            }
        )
    if collection is not None:
        links.append(
            {
                "href": _abs(request, collection[0]),
                "rel": "collection",
                "type": "application/json",
                "title": collection[1],
            }
        )
    # numberMatched only when known without counting (selectors._page): OGC API - Features
    # lets a server leave it out, and GDAL and QGIS page by the next link.
    matched = {} if page.number_matched is None else {"numberMatched": page.number_matched}
    framing = {
        "type": "FeatureCollection",
        **matched,
        "numberReturned": page.number_returned,
        "timeStamp": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": links,
        **(head or {}),
    }
    body = json.dumps(framing, ensure_ascii=False, separators=(",", ":"))[:-1].encode()
    # The page (megabytes) is written as its own part: joining it with the framing, and
    # CommonMiddleware measuring response.content, would each copy it once more.
    features = page.features if isinstance(page.features, bytes) else page.features.encode()
    parts = (body, b',"features":[', features, b"]}")
    response = HttpResponse(content_type=GEOJSON)
    for part in parts:
        response.write(part)
    response["Content-Length"] = str(sum(len(part) for part in parts))
    response["Link"] = ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"' for link in links[1:])
    return response


def _feature_collection(
    request: HttpRequest, layer: Layer, path: str, *, ogc: bool, page: ItemsPage | None = None
) -> HttpResponse:
    """A page of a layer as a FeatureCollection; ``page`` when api_view already read it."""
    bbox, limit, offset, after = page_window(request, layer.slug)
    properties = parse_properties(request.GET.get("properties"), layer.property_names)
    etag = selectors.layer_etag(layer, "items", ogc, bbox, limit, offset, after, properties)
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return HttpResponseNotModified(headers={"ETag": etag})
    if page is None:
        page = selectors.layer_items(
            layer, bbox=bbox, limit=limit, offset=offset, properties=properties, **_keyset(after)
        )
    next_after = None
    if page.more and page.last_id is not None:
        before = offset + (after.position if after else 0)
        next_after = after_token(layer.slug, bbox, page.last_id, before + page.number_returned)
    response = items_response(
        request,
        page,
        path=path,
        limit=limit,
        offset=offset,
        collection=(reverse("ogcapi:collection", args=[layer.slug]), layer.name) if ogc else None,
        head=(
            {"attribution": layer.attribution} if layer.attribution or layer.is_synthetic else None
        ),
        next_after=next_after,
    )
    response["ETag"] = etag
    return response


# --- Plain GeoJSON per layer -------------------------------------------------------------------


@api_view(data=True, paged=True)
def layer_features(
    request: HttpRequest, layer: Layer, page: ItemsPage | None = None
) -> HttpResponse:
    # links from the page's own path
    return _feature_collection(request, layer, request.path, ogc=False, page=page)


@api_view
def layer_catalogue(request: HttpRequest) -> JsonResponse:
    layers = selectors.layers_visible_to(request.principal).order_by("name")
    return JsonResponse({"layers": [layer_summary(request, layer) for layer in layers]})


def layer_summary(request: HttpRequest, layer: Layer) -> dict:
    return {
        "slug": layer.slug,
        "name": layer.name,
        "description": layer.description,
        "owner": layer.owner_organisation.name,
        "service": layer.owner_service.name if layer.owner_service else None,
        "geometry_type": layer.geometry_type,
        "visibility": layer.visibility,
        "synthetic": layer.is_synthetic,
        "feature_count": layer.feature_count,
        "licence": layer.licence,
        "attribution": layer.attribution,
        "updated_at": layer.updated_at.isoformat(),
        "attributes": layer.attribute_schema,
        "urls": layer_urls(request, layer),
    }


def layer_urls(request: HttpRequest, layer: Layer) -> dict[str, str]:
    """The ready-to-paste URLs for QGIS and other clients."""
    tiles = request.build_absolute_uri(reverse("tiles:tile", args=[layer.slug, 0, 0, 0]))
    return {
        "geojson": _abs(request, reverse("layers:features", args=[layer.slug])),
        "ogcapi": _abs(request, reverse("ogcapi:landing")),
        "ogcapi_collection": _abs(request, reverse("ogcapi:collection", args=[layer.slug])),
        "vector_tiles": tiles.replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt"),
    }


# --- Vector tiles --------------------------------------------------------------------------------


# A versioned tile URL (``?v=`` the layer's tile version) names bytes that never change:
# shared caches may keep those of a public layer for an hour, not longer: a layer made internal
# keeps no version of its own, and a copy kept by a cache under an old URL stays readable
# until it expires (a day would leave a day's window on data no longer public).
VERSIONED_TILE_MAX_AGE = 3_600


@api_view(data=True)
def tile(request: HttpRequest, layer: Layer, z: int, x: int, y: int) -> HttpResponse:
    if not 0 <= z <= 22:
        return error(400, "InvalidParameterValue", "z doit être compris entre 0 et 22.")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        return error(
            400,
            "InvalidParameterValue",
            f"x et y doivent être compris entre 0 et {2**z - 1} au niveau {z}.",
        )
    version = selectors.tile_version(layer)
    # Weak: the same features in another order would be another byte string (tile_sql).
    etag = "W/" + selectors.layer_etag(layer, "mvt", version, z, x, y)
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified(headers={"ETag": etag})
    else:
        response = HttpResponse(selectors.layer_tile(layer, z, x, y), content_type=MVT)
        response["ETag"] = etag
    if layer.visibility == Layer.Visibility.PUBLIC and request.GET.get("v") == version:
        response["Cache-Control"] = f"public, max-age={VERSIONED_TILE_MAX_AGE}, immutable"
    return response
