from rest_framework import serializers

from organisations.models import Organisation, Service


class PublicServiceSerializer(serializers.ModelSerializer):
    """A service's public contact card (no staff member is ever listed)."""

    domains = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    opening_hours_text = serializers.CharField(source="opening_hours_display", read_only=True)

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "description",
            "domains",
            "is_reception",
            "email",
            "phone",
            "on_call_phone",
            "address",
            "opening_hours",
            "opening_hours_text",
        ]


class PublicOrganisationSerializer(serializers.ModelSerializer):
    insee = serializers.CharField(source="commune.insee", default=None, read_only=True)
    services = PublicServiceSerializer(many=True, read_only=True)

    class Meta:
        model = Organisation
        fields = [
            "slug",
            "name",
            "kind",
            "insee",
            "on_board",
            "address",
            "phone",
            "email",
            "website",
            "services",
        ]
