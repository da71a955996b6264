import hashlib

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer

from core.renderers import GeoJSONRenderer
from territory.selectors import communes_geojson


@extend_schema(
    summary="Communes of the CAHC (GeoJSON, WGS84)",
    responses={200: OpenApiResponse(description="GeoJSON FeatureCollection of the 14 communes")},
)
@api_view(["GET"])
@permission_classes([AllowAny])
@renderer_classes([GeoJSONRenderer, JSONRenderer])
def communes(request) -> HttpResponse:
    return _geojson(request._request, communes_geojson(members_only=True))


def _geojson(request: HttpRequest, body: str) -> HttpResponse:
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified(headers={"ETag": etag})
    response = HttpResponse(body, content_type="application/geo+json")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=3600"
    return response
