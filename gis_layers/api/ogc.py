"""OGC API - Features - Part 1: Core, GeoJSON and OpenAPI 3.0 conformance classes, at /ogcapi/.

Readable by GDAL's OAPIF driver, QGIS and OWSLib. Collections are the layers the caller may read
(reports join as one more collection when they exist). JSON only: ``f=json`` is accepted, any
other ``f`` is a 400.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from gis_layers import selectors
from gis_layers.collections import extra_collections
from gis_layers.models import Layer
from gis_layers.selectors import ItemsPage

from .views import (
    GEOJSON,
    _abs,
    _feature_collection,
    api_view,
    error,
    items_response,
    layer_urls,
    page_window,
)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _format_ok(request: HttpRequest) -> bool:
    return request.GET.get("f", "json") in ("json", "geojson", "") and request.GET.get(
        "crs", CRS84
    ) in (CRS84, "")


def _json(data: dict, *, content_type: str = JSON) -> JsonResponse:
    return JsonResponse(data, content_type=content_type, json_dumps_params={"ensure_ascii": False})


def _bad_format() -> JsonResponse:
    return error(
        400,
        "InvalidParameterValue",
        f"f : seul le format json est proposé ; crs : seul {CRS84} est proposé.",
    )


@api_view
def landing(request: HttpRequest) -> JsonResponse:
    if not _format_ok(request):
        return _bad_format()
    return _json(
        {
            "title": settings.GRC_SITE_NAME + " – OGC API Features",
            "description": "Couches SIG des communes de la CAHC et de l'agglomération.",
            "links": [
                {
                    "href": _abs(request, reverse("ogcapi:landing")),
                    "rel": "self",
                    "type": JSON,
                    "title": "Cette page",
                },
                {
                    "href": _abs(request, reverse("ogcapi:openapi")),
                    "rel": "service-desc",
                    "type": OPENAPI,
                    "title": "Définition OpenAPI 3.0",
                },
                {
                    "href": _abs(request, reverse("ogcapi:conformance")),
                    "rel": "conformance",
                    "type": JSON,
                    "title": "Classes de conformité",
                },
                {
                    "href": _abs(request, reverse("ogcapi:collections")),
                    "rel": "data",
                    "type": JSON,
                    "title": "Collections",
                },
            ],
        }
    )


@api_view
def conformance(request: HttpRequest) -> JsonResponse:
    if not _format_ok(request):
        return _bad_format()
    return _json({"conformsTo": CONFORMANCE})


def _collection(request: HttpRequest, layer: Layer) -> dict:
    items = _abs(request, reverse("ogcapi:items", args=[layer.slug]))
    urls = layer_urls(request, layer)
    tile_version = selectors.tile_version(layer)
    extent = selectors.layer_extent_wgs84(layer)
    data = {
        "id": layer.slug,
        "title": layer.name,
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84],  # Part 2 (other CRS) is not offered: clients must not ask for crs=
        "links": [
            {
                "href": _abs(request, reverse("ogcapi:collection", args=[layer.slug])),
                "rel": "self",
                "type": JSON,
                "title": layer.name,
            },
            {"href": items, "rel": "items", "type": GEOJSON, "title": "Objets (GeoJSON)"},
            {
                # versioned: a client reading the collection gets tiles a cache may keep for an
                # hour (views.tile); the catalogue's URL for QGIS stays the same across imports
                "href": f"{urls['vector_tiles']}?{urlencode({'v': tile_version})}",
                "rel": "item",
                "type": "application/vnd.mapbox-vector-tile",
                "title": "Tuiles vectorielles (MVT), {z}/{x}/{y}",
                "templated": True,
            },
            {
                "href": urls["geojson"],
                "rel": "alternate",
                "type": GEOJSON,
                "title": "GeoJSON simple",
            },
        ],
        "geometryType": layer.geometry_type,
        "license": layer.licence,
        "attribution": layer.attribution,
        "synthetic": layer.is_synthetic,
        "featureCount": layer.feature_count,
        "updated": layer.updated_at.isoformat(),
    }
    if extent:
        data["extent"] = {"spatial": {"bbox": [extent], "crs": CRS84}}
    return data


# --- Collections that are not layers (gis_layers.collections) -----------------------------------


def _extra(request: HttpRequest, extra) -> dict:
    base = reverse("ogcapi:collection", args=[extra.id])
    data = {
        "id": extra.id,
        "title": extra.title,
        "description": extra.description,
        "itemType": "feature",
        "crs": [CRS84],
        "license": extra.licence,
        "links": [
            {"href": _abs(request, base), "rel": "self", "type": JSON, "title": extra.title},
            {
                "href": _abs(request, base + "/items"),
                "rel": "items",
                "type": GEOJSON,
                "title": "Objets (GeoJSON)",
            },
        ],
    }
    if extra.extent:
        data["extent"] = {"spatial": {"bbox": [extra.extent], "crs": CRS84}}
    return data


def extra_collection_view(request: HttpRequest, extra) -> JsonResponse:
    if not _format_ok(request):
        return _bad_format()
    return _json(_extra(request, extra))


def extra_items_view(request: HttpRequest, extra) -> HttpResponse:
    if not _format_ok(request):
        return _bad_format()
    bbox, limit, offset, _after = page_window(request)
    response = items_response(
        request,
        extra.items(bbox, limit, offset),
        path=reverse("ogcapi:items", args=[extra.id]),
        limit=limit,
        offset=offset,
        collection=(reverse("ogcapi:collection", args=[extra.id]), extra.title),
    )
    response["Cache-Control"] = "public, max-age=60"
    return response


def extra_item_view(request: HttpRequest, extra, feature_id: str) -> HttpResponse:
    if not _format_ok(request):
        return _bad_format()
    text = extra.item(feature_id[:40])
    if text is None:
        return error(404, "NotFound", f"Objet inconnu : {feature_id[:40]}.")
    return HttpResponse(text, content_type=GEOJSON)


@api_view
def collections(request: HttpRequest) -> JsonResponse:
    if not _format_ok(request):
        return _bad_format()
    layers = selectors.layers_visible_to(request.principal).order_by("name")
    return _json(
        {
            "links": [
                {
                    "href": _abs(request, reverse("ogcapi:collections")),
                    "rel": "self",
                    "type": JSON,
                    "title": "Collections",
                }
            ],
            "collections": [_collection(request, layer) for layer in layers]
            + [_extra(request, extra) for extra in extra_collections()],
        }
    )


@api_view(extra=extra_collection_view)
def collection(request: HttpRequest, layer: Layer) -> JsonResponse:
    if not _format_ok(request):
        return _bad_format()
    return _json(_collection(request, layer))


@api_view(data=True, paged=True, extra=extra_items_view)
def items(request: HttpRequest, layer: Layer, page: ItemsPage | None = None) -> HttpResponse:
    if not _format_ok(request):
        return _bad_format()
    # links from the page's own path
    return _feature_collection(request, layer, request.path, ogc=True, page=page)


@api_view(data=True, extra=extra_item_view)
def item(request: HttpRequest, layer: Layer, feature_id: str) -> HttpResponse:
    if not _format_ok(request):
        return _bad_format()
    if not feature_id.isdigit() or len(feature_id) > 18:
        return error(404, "NotFound", f"Objet inconnu : {feature_id[:40]}.")
    text = selectors.layer_feature(layer, int(feature_id))
    if text is None:
        return error(404, "NotFound", f"Objet inconnu : {feature_id}.")
    links = json.dumps(
        [
            {
                "href": _abs(request, reverse("ogcapi:item", args=[layer.slug, feature_id])),
                "rel": "self",
                "type": GEOJSON,
            },
            {
                "href": _abs(request, reverse("ogcapi:collection", args=[layer.slug])),
                "rel": "collection",
                "type": JSON,
            },
        ]
    )
    return HttpResponse(f'{text[:-1]},"links":{links}}}', content_type=GEOJSON)


@api_view
def openapi(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.0 definition of this OGC API (the oas30 conformance class)."""
    server = _abs(request, reverse("ogcapi:landing")).rstrip("/")
    params = {
        "bbox": {
            "name": "bbox",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "description": "minLon,minLat,maxLon,maxLat (CRS84)",
            "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
        "after": {
            "name": "after",
            "in": "query",
            "required": False,
            "description": "Jeton de la page suivante (lien next), à reprendre tel quel ; "
            "ne se combine pas avec offset.",
            "schema": {"type": "string"},
        },
        "collectionId": {
            "name": "collectionId",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
        },
        "f": {
            "name": "f",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["json"]},
        },
    }

    def op(op_id: str, summary: str, parameters: list[str], content: str) -> dict:
        return {
            "get": {
                "operationId": op_id,
                "summary": summary,
                "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in parameters],
                "responses": {
                    "200": {
                        "description": summary,
                        "content": {content: {"schema": {"type": "object"}}},
                    },
                    "400": {"description": "Paramètre invalide"},
                    "401": {"description": "Authentification requise"},
                    "403": {"description": "Accès refusé"},
                    "404": {"description": "Introuvable"},
                },
            }
        }

    doc = {
        "openapi": "3.0.3",
        "info": {
            "title": settings.GRC_SITE_NAME + " – OGC API Features",
            "version": "1.0.0",
            "description": "Couches SIG partagées. Jeton : en-tête Authorization: Bearer.",
        },
        "servers": [{"url": server}],
        "paths": {
            "/": op("getLandingPage", "Page d'accueil", ["f"], JSON),
            "/conformance": op("getConformance", "Classes de conformité", ["f"], JSON),
            "/collections": op("getCollections", "Collections", ["f"], JSON),
            "/collections/{collectionId}": op(
                "describeCollection", "Collection", ["collectionId", "f"], JSON
            ),
            "/collections/{collectionId}/items": op(
                "getFeatures",
                "Objets",
                ["collectionId", "bbox", "limit", "offset", "after", "f"],
                GEOJSON,
            ),
            "/collections/{collectionId}/items/{featureId}": op(
                "getFeature", "Objet", ["collectionId", "featureId", "f"], GEOJSON
            ),
        },
        "components": {
            "parameters": params,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return _json(doc, content_type=OPENAPI)
