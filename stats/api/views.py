"""GET /api/stats/heatmap: requests counted on a grid for the viewport, as GeoJSON cells."""

from __future__ import annotations

import datetime as dt
import json

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
from gis_layers.models import Layer
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
            "of cells; `equipment` (one `category` with equipment layers): each cell also "
            "gives the equipment of the category's layers in it (`equipment`) and the "
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
    compare = _compare_period(params)
    normalise = params.get("normalise", "")
    if normalise not in ("", "inhabitants", "equipment"):
        raise serializers.ValidationError({"normalise": "inhabitants ou equipment."})
    staff = permissions.can_access_intranet(request.user)
    organisations = permissions.stats_organisations(request.user) if staff else None
    k = 1 if staff else settings.GRC_HEATMAP_K
    if normalise == "inhabitants":
        communes = selectors.commune_rates(
            filters=filters,
            organisations=organisations,
            k=k,
            category_ids=category_ids,
            compare=compare,
        )
        body = _communes_body(communes, compare is not None)
    else:
        layers = _equipment_layers(request.user, category_ids) if normalise else ()
        result = selectors.heatmap(
            bbox,
            zoom=int(zoom),
            filters=filters,
            organisations=organisations,
            k=k,
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
    response["Cache-Control"] = "private, max-age=60" if staff else "public, max-age=300"
    response["Vary"] = "Cookie, Authorization"
    return response


def _compare_period(params) -> tuple[dt.date, dt.date] | None:
    raw = (params.get("compare_since", ""), params.get("compare_until", ""))
    if not any(raw):
        return None
    try:
        since, until = (dt.date.fromisoformat(v) for v in raw)
    except ValueError:
        raise serializers.ValidationError(
            {"compare_since": "Deux dates AAAA-MM-JJ : compare_since et compare_until."}
        ) from None
    if since > until:
        raise serializers.ValidationError({"compare_since": "Le début est après la fin."})
    return since, until


def _equipment_layers(user, category_ids: list[int]) -> tuple[int, ...]:
    """The layers of the one category asked for that the caller may read."""
    if len(category_ids) != 1:
        raise serializers.ValidationError(
            {"normalise": "Par équipement : choisissez un seul problème (category)."}
        )
    layers = tuple(
        Layer.objects.filter(permissions.layers_filter_for(user), categories=category_ids[0])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not layers:
        raise serializers.ValidationError(
            {"normalise": "Ce problème ne porte sur aucune couche d'équipements."}
        )
    return layers


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
