from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts import permissions


@extend_schema(
    summary="The signed-in user's roles and the services they work in",
    responses=inline_serializer(
        "Me",
        {
            "email": serializers.EmailField(),
            "roles": serializers.ListField(child=serializers.CharField()),
            "services": serializers.ListField(child=serializers.DictField()),
            "administered_organisations": serializers.ListField(child=serializers.CharField()),
        },
    ),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def me(request) -> Response:
    actor = permissions.actor_for(request.user)
    services = permissions.services_visible_to(request.user).filter(pk__in=actor.services)
    return Response(
        {
            "email": request.user.email,
            "roles": actor.roles,
            "services": [
                {
                    "organisation": s.organisation.slug,
                    "service": s.slug,
                    "role": actor.service_roles[s.pk],
                }
                for s in services.order_by("organisation__name", "name")
            ],
            "administered_organisations": sorted(
                permissions.organisations_visible_to(request.user)
                .filter(pk__in=actor.admin_organisations)
                .values_list("slug", flat=True)
            ),
        }
    )
