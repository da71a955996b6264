"""GET /api/stats/heatmap: requests counted on a grid for the viewport, as GeoJSON cells."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from accounts import permissions
from gis_layers.api.params import BadParameter, parse_bbox
from routing.models import Category

from .. import selectors
from ..filters import filters_from


@extend_schema(
    summary="Heatmap of requests (GeoJSON grid cells with counts)",
    description="Counts per square cell (25 m × 2^level in Lambert-93, the level following the "
    "zoom: cells of about 30 screen pixels), from aggregates kept exact by a trigger. Filters: "
    "`since`/`until` (whole months), `category`, `status`, `service`. Staff see the requests of "
    "their scope, every cell; everyone else sees all requests but only cells of at least k "
    "(GRC_HEATMAP_K, 5) so that no single report can be singled out.",
    parameters=[
        OpenApiParameter("bbox", OpenApiTypes.STR, required=True),
        OpenApiParameter("zoom", OpenApiTypes.INT, required=True),
        OpenApiParameter("since", OpenApiTypes.DATE),
        OpenApiParameter("until", OpenApiTypes.DATE),
        OpenApiParameter("category", OpenApiTypes.STR),
        OpenApiParameter("status", OpenApiTypes.STR),
        OpenApiParameter("service", OpenApiTypes.STR),
    ],
    responses={(200, "application/geo+json"): OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([AllowAny])
def heatmap(request) -> HttpResponse:
    params = request.query_params
    try:
        bbox = parse_bbox(params.get("bbox"))
    except BadParameter as exc:
        raise serializers.ValidationError({"bbox": str(exc)}) from None
    if bbox is None:
        raise serializers.ValidationError({"bbox": "bbox est obligatoire."})
    zoom = params.get("zoom", "")
    if not zoom.isdigit() or int(zoom) > 22:
        raise serializers.ValidationError({"zoom": "zoom va de 0 à 22."})
    try:
        filters = filters_from(params)
    except ValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None
    if filters.channels or filters.communes:
        raise serializers.ValidationError(
            {"channel": "Les cartes de chaleur se filtrent par période, problème, état et service."}
        )
    category_ids = (
        list(Category.objects.filter(slug__in=filters.categories).values_list("pk", flat=True))
        if filters.categories
        else []
    )
    if filters.categories and len(category_ids) != len(set(filters.categories)):
        raise serializers.ValidationError({"category": "Catégorie inconnue."})
    staff = permissions.can_access_intranet(request.user)
    result = selectors.heatmap(
        bbox,
        zoom=int(zoom),
        filters=filters,
        organisations=permissions.stats_organisations(request.user) if staff else None,
        k=1 if staff else settings.GRC_HEATMAP_K,
        category_ids=category_ids,
    )
    body = (
        f'{{"type":"FeatureCollection","level":{result.level},"cellMetres":{result.cell_m:g},'
        f'"total":{result.total},"suppressedCells":{result.suppressed},'
        f'"source":"{result.source}",'
        f'"features":[{result.features}]}}'
    )
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "private, max-age=60" if staff else "public, max-age=300"
    response["Vary"] = "Cookie, Authorization"
    return response
