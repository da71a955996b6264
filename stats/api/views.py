"""GET /api/stats/heatmap: requests counted on a grid for the viewport, as GeoJSON cells."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from accounts import permissions
from gis_layers.api.params import BadParameter, parse_viewport
from tracking import filters as tracking_filters
from tracking.filters import filters_from

from .. import selectors

# The heatmaps have no channel or commune filter (cells are places already).
HEATMAP_FILTERS = ("since", "until", "category", "status", "service")


@extend_schema(
    summary="Heatmap of requests (GeoJSON grid cells with counts)",
    description="Counts per square cell (25 m × 2^level in Lambert-93, the level following the "
    "zoom: cells of about 30 screen pixels, at least 200 m when the aggregates answer), from "
    "aggregates kept exact by a trigger. Filters: "
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
        OpenApiParameter(
            "compare_since",
            OpenApiTypes.DATE,
            description="With compare_until: a second period; each cell (or commune) also "
            "gives its count over it (`previous`) and the `change`.",
        ),
        OpenApiParameter("compare_until", OpenApiTypes.DATE),
        OpenApiParameter(
            "normalise",
            OpenApiTypes.STR,
            enum=["inhabitants", "equipment"],
            description="`inhabitants`: the territory's communes (simplified outlines) with "
            "their counts, population and requests per 1,000 inhabitants (`per1000`), instead "
            "of cells; `equipment`: each cell also gives the equipment in it of the layers of the "
            "chosen problems (every problem when none is chosen) (`equipment`) and the "
            "requests per equipment (`perEquipment`).",
        ),
    ],
    responses={(200, "application/geo+json"): OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([AllowAny])
def heatmap(request) -> HttpResponse:
    params = request.query_params
    try:
        bbox, zoom = parse_viewport(params)
    except BadParameter as exc:
        raise serializers.ValidationError({exc.name: str(exc)}) from None
    normalise = params.get("normalise", "")
    if normalise not in ("", "inhabitants", "equipment"):
        raise serializers.ValidationError({"normalise": _("inhabitants ou equipment.")})
    organisations, k, public = permissions.heatmap_audience(request.user)
    audience = selectors.Audience(organisations, k, public)
    try:
        filters = filters_from(params, allowed=HEATMAP_FILTERS)
        category_ids = tracking_filters.category_ids(filters)
        compare = tracking_filters.compare_from(params)
        layers = (
            selectors.equipment_layers(request.user, category_ids)
            if normalise == "equipment"
            else ()
        )
    except ValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None
    if normalise == "inhabitants":
        communes = selectors.commune_rates(
            filters=filters, audience=audience, category_ids=category_ids, compare=compare
        )
        body = _communes_body(communes, compare is not None)
    else:
        result = selectors.heatmap(
            bbox,
            zoom=zoom,
            filters=filters,
            audience=audience,
            category_ids=category_ids,
            compare=compare,
            equipment_layers=layers,
        )
        body = (
            f'{{"type":"FeatureCollection","level":{result.level},"cellMetres":{result.cell_m:g},'
            f'"total":{result.total},"suppressedCells":{result.suppressed},'
            f'"source":"{result.source}",'
            f'"features":[{result.features}]}}'
        )
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "public, max-age=300" if public else "private, max-age=60"
    response["Vary"] = "Cookie, Authorization"
    return response


def _communes_body(communes, compare: bool) -> str:
    features = []
    for c in communes:
        properties = {
            "insee": c.insee,
            "name": c.name,
            "population": c.population,
            "count": c.count,
            "per1000": c.per_1000,
        }
        if compare:
            properties |= {"previous": c.previous, "change": c.change}
        features.append(
            f'{{"type":"Feature","geometry":{c.geometry},"properties":{json.dumps(properties)}}}'
        )
    total = sum(c.count or 0 for c in communes)
    withheld = sum(1 for c in communes if c.count is None)
    return (
        f'{{"type":"FeatureCollection","normalise":"inhabitants","total":{total},'
        f'"suppressedCells":{withheld},"features":[{",".join(features)}]}}'
    )
