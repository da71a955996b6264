"""GET /api/addresses/?q=…: address search for the report form's non-map path."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from ..selectors import MAX_QUERY, address_backend

MAX_LIMIT = 20


@extend_schema(
    summary="Search an address of the territory",
    parameters=[
        OpenApiParameter("q", OpenApiTypes.STR, required=True, description="At least 3 letters"),
        OpenApiParameter("limit", OpenApiTypes.INT, required=False, description="1 to 20"),
    ],
    responses=inline_serializer(
        "AddressResults",
        {
            "results": serializers.ListField(
                child=inline_serializer(
                    "Address",
                    {
                        "label": serializers.CharField(),
                        "lon": serializers.FloatField(),
                        "lat": serializers.FloatField(),
                        "insee": serializers.CharField(),
                        "city": serializers.CharField(),
                        "score": serializers.FloatField(),
                    },
                )
            )
        },
    ),
)
@api_view(["GET"])
@permission_classes([AllowAny])
def search(request) -> Response:
    query = request.query_params.get("q", "")
    if len(query.strip()) < 3 or len(query) > MAX_QUERY:
        raise serializers.ValidationError(
            {
                "q": _("Tapez entre 3 et %(n)s caractères (par exemple : 12 rue Jean Jaurès).")
                % {"n": MAX_QUERY}
            }
        )
    raw_limit = request.query_params.get("limit", "10")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise serializers.ValidationError({"limit": _("limit va de 1 à %(n)s.") % {"n": MAX_LIMIT}})
    hits = address_backend().search(query, limit=int(raw_limit))
    return Response({"results": [hit.as_dict() for hit in hits]})
