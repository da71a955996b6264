from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny

from organisations.models import Organisation, Service

from .serializers import PublicOrganisationSerializer


@extend_schema(summary="Organisations of the territory and their services' public contacts")
class OrganisationList(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = PublicOrganisationSerializer
    pagination_class = None
    queryset = (
        Organisation.objects.select_related("commune")
        .prefetch_related(
            Prefetch(
                "services",
                queryset=Service.objects.filter(is_active=True)
                .prefetch_related("domains")
                .order_by("-is_reception", "name"),
            )
        )
        .order_by("-kind", "name")
    )
