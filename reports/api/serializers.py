"""What the report API reads and writes. Public output never carries personal data."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from core.api import coordinate
from core.maps import reproject
from routing.models import Category

from ..models import DESCRIPTION_MAX
from ..positions import shows_place
from ..selectors import photo_links


class ReportCreateSerializer(serializers.Serializer):
    category = serializers.SlugField(max_length=80)
    lon = serializers.JSONField(help_text="Longitude, WGS84 (e.g. 3.0105)")
    lat = serializers.JSONField(help_text="Latitude, WGS84 (e.g. 50.4804)")
    description = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"At most {DESCRIPTION_MAX} characters"
    )
    equipment = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Id of the equipment picked"
    )
    address_label = serializers.CharField(required=False, allow_blank=True, max_length=255)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    answers = serializers.DictField(
        required=False,
        help_text="Answers to the category's extra questions, by question name (in multipart, "
        "one field `answers.<name>` each): text (at most 500 characters), one of the choices, "
        "or true/false; required ones must be there, unknown names are refused (422)",
    )
    photos = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="Multipart only: up to 3 JPEG, PNG or WebP files of at most 10 MB each",
    )

    def validate_category(self, slug: str) -> Category:
        category = (
            Category.objects.select_related("domain").filter(slug=slug, is_active=True).first()
        )
        if category is None:
            raise serializers.ValidationError("Catégorie inconnue.")
        return category

    def validate(self, data: dict) -> dict:
        data["lon"] = coordinate(data.get("lon"), "lon", -180, 180)
        data["lat"] = coordinate(data.get("lat"), "lat", -90, 90)
        return data


def _lonlat(location) -> dict | None:
    if location is None:
        return None
    point = reproject(location, settings.GRC_API_SRID)
    return {"lon": round(point.x, 6), "lat": round(point.y, 6)}


def report_public(report, events) -> dict:
    """A report as anyone may see it: no name, email, phone, internal note or routing trace;
    its stored public point (reports.positions: snapped to the public grid), and for a category
    about a home no point, address, equipment, description or photo (the commune only)."""
    service = report.service
    place = shows_place(report, may_see_private=False)
    return {
        "reference": report.reference,
        "status": report.status,
        "status_label": report.get_status_display(),
        "status_reason": report.status_reason,
        "category": {"slug": report.category.slug, "name": report.category.name},
        "description": report.description if place else "",
        "location": _lonlat(report.public_location),
        "address_label": report.address_label if place else "",
        "equipment_label": report.equipment_label if place else "",
        "commune": report.commune.name if report.commune_id else None,
        "service": {"name": service.name, "organisation": service.organisation.name}
        if service
        else None,
        "created_at": report.created_at.isoformat(),
        "photos": photo_links(report) if place else [],
        "timeline": [
            {
                "at": event.at.isoformat(),
                "type": event.type,
                "status": event.status_after or None,
                "by": event.actor_label,
                "message": event.text,
            }
            for event in events
            if event.is_public
        ],
    }


def report_private(report, *, access_key: str = "") -> dict:
    """What the author (or the tracking link's holder) and the handling agents also see: the
    exact point, and what a category about a home keeps from the public (``access_key``: the
    reader's, carried by the photo links that need it)."""
    return {
        "location": _lonlat(report.location),
        "description": report.description,
        "address_label": report.address_label,
        "equipment_label": report.equipment_label,
        "photos": photo_links(report, access_key=access_key),
        "contact_name": report.contact_name,
        "contact_email": report.author.email if report.author_id else report.contact_email,
        "contact_phone": report.contact_phone,
        "answers": report.answers,
    }


class _Named(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class _Place(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()


class _ServiceName(serializers.Serializer):
    name = serializers.CharField()
    organisation = serializers.CharField()


class _TimelineLine(serializers.Serializer):
    at = serializers.DateTimeField()
    type = serializers.CharField()
    status = serializers.CharField(allow_null=True)
    by = serializers.CharField()
    message = serializers.CharField()


class _PhotoLinks(serializers.Serializer):
    url = serializers.CharField()
    thumbnail_url = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ReportOutSerializer(serializers.Serializer):
    """The documented shape of a report in answers (built by report_public/report_private)."""

    reference = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    status_reason = serializers.CharField()
    category = _Named()
    description = serializers.CharField()
    location = _Place(
        allow_null=True,
        help_text="Public: snapped to a grid of GRC_PUBLIC_PRECISION_M metres (10) in Lambert-93, "
        "null for a category about a home; exact for its author, the key holder and the agents",
    )
    address_label = serializers.CharField()
    equipment_label = serializers.CharField()
    commune = serializers.CharField(allow_null=True)
    service = _ServiceName(allow_null=True)
    created_at = serializers.DateTimeField()
    photos = _PhotoLinks(many=True)
    timeline = _TimelineLine(many=True)
    contact_name = serializers.CharField(required=False, help_text="Author, key holder, agents")
    contact_email = serializers.CharField(required=False, help_text="Author, key holder, agents")
    contact_phone = serializers.CharField(required=False, help_text="Author, key holder, agents")
    answers = serializers.DictField(
        required=False, help_text="Answers to the category's questions; author, key holder, agents"
    )
    tracking_url = serializers.CharField(required=False, help_text="In the creation answer")


class ReportListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = ReportOutSerializer(many=True)


class _EquipmentHit(serializers.Serializer):
    id = serializers.IntegerField()
    ref = serializers.CharField()
    layer = serializers.CharField()
    layer_name = serializers.CharField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    distance_m = serializers.FloatField(allow_null=True)


class EquipmentListSerializer(serializers.Serializer):
    results = _EquipmentHit(many=True)
