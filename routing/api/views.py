"""GET /api/routing/preview: who will handle a report here, before it is sent (no personal data)."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.api import coordinate
from gis_layers.models import Feature
from organisations.models import Service
from routing.models import Category
from routing.selectors import route_for

ServiceCard = inline_serializer(
    "RoutingService",
    {
        "name": serializers.CharField(),
        "email": serializers.EmailField(),
        "phone": serializers.CharField(),
        "address": serializers.CharField(),
        "opening_hours": serializers.CharField(),
    },
)


@extend_schema(
    summary="Who will handle a report at this place (routing preview)",
    description="The service and organisation that a report of this category at this point "
    "would be sent to, with the trace of the decision. No personal data.",
    parameters=[
        OpenApiParameter(
            "lon", OpenApiTypes.NUMBER, required=True, description="Longitude (WGS84)"
        ),
        OpenApiParameter("lat", OpenApiTypes.NUMBER, required=True, description="Latitude (WGS84)"),
        OpenApiParameter("category", OpenApiTypes.STR, required=True, description="Category slug"),
        OpenApiParameter("equipment", OpenApiTypes.INT, required=False, description="Feature id"),
    ],
    responses=inline_serializer(
        "RoutingPreview",
        {
            "status": serializers.ChoiceField(["routed", "outside", "not_on_board", "no_service"]),
            "message": serializers.CharField(),
            "service": ServiceCard,
            "organisation": serializers.CharField(allow_null=True),
            "commune": serializers.DictField(allow_null=True),
            "equipment": serializers.DictField(allow_null=True),
            "trace": serializers.ListField(child=serializers.DictField()),
        },
    ),
)
@api_view(["GET"])
@permission_classes([AllowAny])
def preview(request) -> Response:
    lon = coordinate(request.query_params.get("lon"), "lon", -180, 180)
    lat = coordinate(request.query_params.get("lat"), "lat", -90, 90)
    slug = request.query_params.get("category", "")
    category = Category.objects.select_related("domain").filter(slug=slug, is_active=True).first()
    if category is None:
        raise serializers.ValidationError({"category": _("Catégorie inconnue.")})
    equipment_id = None
    if request.query_params.get("equipment"):
        raw = request.query_params["equipment"]
        if not raw.isdigit() or len(raw) > 18:
            raise serializers.ValidationError(
                {"equipment": _("Identifiant d'équipement invalide.")}
            )
        layer_id = Feature.objects.filter(pk=int(raw)).values_list("layer_id", flat=True).first()
        if layer_id is None:
            raise serializers.ValidationError({"equipment": _("Équipement inconnu.")})
        if not category.layers.filter(pk=layer_id).exists():
            raise serializers.ValidationError(
                {"equipment": _("Cet équipement ne relève pas de cette catégorie.")}
            )
        equipment_id = int(raw)
    decision = route_for(
        location=Point(lon, lat, srid=4326), category=category, equipment_id=equipment_id
    )
    service = (
        Service.objects.filter(pk=decision.service_id).first() if decision.service_id else None
    )
    return Response(
        {
            "status": decision.status,
            "message": decision.message,
            "service": {
                "name": service.name,
                "email": service.email,
                "phone": service.phone,
                "address": service.address,
                "opening_hours": service.opening_hours_display,
            }
            if service
            else None,
            "organisation": decision.organisation_name or None,
            "commune": decision.commune,
            "equipment": {k: decision.equipment[k] for k in ("id", "ref", "layer", "distance_m")}
            if decision.equipment
            else None,
            "trace": decision.trace,
        }
    )
