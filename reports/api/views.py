"""The report API: create (with Idempotency-Key), read a public report, list one's own.

Thin: parse, check, call reports.services / reports.selectors, frame the answer.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from core import idempotency, ratelimit
from core.api import coordinate
from gis_layers.api.params import BadParameter, parse_viewport
from tracking.models import Channel
from tracking.services import tracking_url

from .. import selectors, services
from ..filters import map_filters_api
from ..photos import PhotoTooLarge, photos_check
from .serializers import (
    EquipmentListSerializer,
    ReportCreateSerializer,
    ReportListSerializer,
    ReportOutSerializer,
    report_private,
    report_public,
)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    idempotency.HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="A unique key per report (a UUID): retrying with the same key and body returns "
    "the first answer and creates nothing more; the same key with another body is refused (422).",
)


ENDPOINT = "reports:create"  # the Idempotency-Key's endpoint


def _refusal(exc: DjangoValidationError) -> Response:
    """A report the portal cannot take (outside the CAHC, empty text, ...): 422 with reasons."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return Response({"errors": errors}, status=422)


def _too_many(refusal: ratelimit.Refusal) -> Response:
    return ratelimit.refused(Response({"errors": {"non_field_errors": [refusal.message]}}), refusal)


def _attempt(request) -> Response | None:
    refusal = ratelimit.check(request, "attempt")
    return None if refusal is None else _too_many(refusal)


@extend_schema(
    summary="Create a report",
    description="Stores the report, routes it to the service in charge and queues the "
    "acknowledgement mail. 400 for malformed input, 422 when the portal cannot take it (the "
    "reason says why: outside the CAHC, a commune not on the portal, ...).",
    request={
        "application/json": ReportCreateSerializer,
        "multipart/form-data": ReportCreateSerializer,
    },
    parameters=[IDEMPOTENCY_PARAMETER],
    responses={
        201: OpenApiResponse(
            ReportOutSerializer, description="The report, its contact and its tracking URL"
        ),
        400: OpenApiResponse(description="Malformed input"),
        413: OpenApiResponse(description="Upload too large"),
        422: OpenApiResponse(description="Refused, with the reason"),
        429: OpenApiResponse(description="Too many submissions (Retry-After)"),
    },
)
@api_view(["POST"])
@permission_classes([AllowAny])
def report_create(request) -> Response:
    too_big = _refuse_oversized(request)
    if too_big is not None:
        return too_big
    # The key looked up once, before any work: a replay (same key, same body) is answered at
    # once and not counted; anything else is an attempt, counted before photos are decoded.
    once = idempotency.begin(request, request.user, ENDPOINT, attempt=lambda: _attempt(request))
    if isinstance(once, Response):
        return once
    serializer = ReportCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    user = request.user if request.user.is_authenticated else None
    try:
        photos = photos_check(request.FILES.getlist("photos"))
    except PhotoTooLarge as exc:
        return Response({"errors": {"photos": exc.messages}}, status=413)
    except DjangoValidationError as exc:
        return _refusal(DjangoValidationError({"photos": exc.messages}))

    def write() -> Response:
        # Counted once stored (replays never get here); one too many is rolled back.
        try:
            with transaction.atomic():
                report = services.report_create(
                    category=data["category"],
                    location=Point(data["lon"], data["lat"], srid=4326),
                    description=data["description"],
                    channel=Channel.API,
                    author=user,
                    contact_email=data.get("contact_email", ""),
                    contact_phone=data.get("contact_phone", ""),
                    contact_name=data.get("contact_name", ""),
                    equipment_id=data.get("equipment"),
                    address_label=data.get("address_label", ""),
                    answers=data.get("answers") or {},
                    photos=photos,
                )
                ratelimit.count(request, "report")
        except DjangoValidationError as exc:
            return _refusal(exc)
        except ratelimit.TooMany as exc:
            return _too_many(exc.refusal)
        report = selectors.report_by_reference(report.reference)
        body = {
            **report_public(report, report.events.all()),
            **report_private(report, access_key=report.access_key),
            "tracking_url": tracking_url(report),
        }
        return Response(body, status=201)

    # The photos' digests (of their bytes as sent) name the request: not read a second time.
    return once.run(write, known={"photos": [photo.digest for photo in photos]})


def _refuse_oversized(request) -> Response | None:
    """413 before reading a body that cannot be accepted (3 photos at the cap, plus the form)."""
    limit = settings.GRC_PHOTO_MAX_COUNT * settings.GRC_PHOTO_MAX_BYTES + 1_048_576
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return Response(
            {
                "errors": {
                    "photos": [
                        f"Envoi de {length / 1_048_576:.0f} Mo : au plus "
                        f"{limit // 1_048_576} Mo en tout (3 photos)."
                    ]
                }
            },
            status=413,
        )
    return None


@extend_schema(
    summary="Read a report",
    description="Public fields for anyone; contact details too for its author, the holder of "
    "the tracking link's key (`cle`) and the agents handling it. Hidden reports are 404.",
    parameters=[OpenApiParameter("cle", OpenApiTypes.STR, required=False)],
    responses={200: ReportOutSerializer, 404: OpenApiResponse(description="Unknown or hidden")},
)
@api_view(["GET"])
@permission_classes([AllowAny])
def report_detail(request, reference: str) -> Response:
    report = selectors.report_by_reference(reference)
    page = (
        selectors.report_page(report, user=request.user, access_key=request.GET.get("cle", ""))
        if report
        else None
    )
    if page is None:
        raise Http404
    body = report_public(report, page.events)
    if page.may_see_private:
        body.update(report_private(report, access_key=request.GET.get("cle", "")))
    return Response(body)


@extend_schema(
    summary="My reports",
    description="The signed-in citizen's reports, newest first.",
    responses=ReportListSerializer,
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def my_reports(request) -> Response:
    reports = selectors.reports_of(request.user)
    return Response(
        {
            "count": len(reports),
            "results": [{**report_public(r, r.events.all()), **report_private(r)} for r in reports],
        }
    )


@extend_schema(
    summary="Equipment a report may be about",
    description="The category's public equipment near a point (`lon`, `lat`, `radius` in metres, "
    "at most 200), nearest first, or the one whose plate reads `ref`. For streets and parks the "
    "position given is the point of them nearest to the citizen (where a pin snaps).",
    parameters=[
        OpenApiParameter("category", OpenApiTypes.STR, required=True),
        OpenApiParameter("lon", OpenApiTypes.NUMBER, required=False),
        OpenApiParameter("lat", OpenApiTypes.NUMBER, required=False),
        OpenApiParameter("radius", OpenApiTypes.NUMBER, required=False),
        OpenApiParameter("ref", OpenApiTypes.STR, required=False),
    ],
    responses=EquipmentListSerializer,
)
@api_view(["GET"])
@permission_classes([AllowAny])
def equipment(request) -> Response:
    params = request.query_params
    try:
        category = ReportCreateSerializer().validate_category(params.get("category", ""))
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"category": exc.detail}) from None
    if params.get("ref"):
        hits = selectors.equipment_by_ref(category, params["ref"])
    else:
        lon = coordinate(params.get("lon"), "lon", -180, 180)
        lat = coordinate(params.get("lat"), "lat", -90, 90)
        radius = coordinate(params.get("radius", "60"), "radius", 1, 200)
        hits = selectors.equipment_near(category, lon=lon, lat=lat, radius_m=radius)
    return Response({"results": [hit.as_dict() for hit in hits]})


@extend_schema(
    summary="Public map of reports (GeoJSON)",
    description="Reports in the viewport, built by PostGIS: one point per report from zoom 16, "
    "clusters (`count`) below. Public fields only (tracking number, category, status, date); "
    "hidden reports never. Filters: `category` and `status` (comma-separated), `since`, `until`.",
    parameters=[
        OpenApiParameter(
            "bbox",
            OpenApiTypes.STR,
            required=True,
            description="minLon,minLat,maxLon,maxLat (WGS84)",
        ),
        OpenApiParameter("zoom", OpenApiTypes.INT, required=True, description="0 to 22"),
        OpenApiParameter("category", OpenApiTypes.STR, required=False),
        OpenApiParameter("status", OpenApiTypes.STR, required=False),
        OpenApiParameter("since", OpenApiTypes.DATE, required=False),
        OpenApiParameter("until", OpenApiTypes.DATE, required=False),
    ],
    responses={(200, "application/geo+json"): OpenApiTypes.OBJECT},
)
@api_view(["GET"])
@permission_classes([AllowAny])
def reports_map(request) -> HttpResponse:
    params = request.query_params
    try:
        bbox, zoom = parse_viewport(params)
    except BadParameter as exc:
        raise serializers.ValidationError({exc.name: str(exc)}) from None
    total, count, features = selectors.reports_map(bbox, zoom=zoom, filters=map_filters_api(params))
    body = (
        f'{{"type":"FeatureCollection","numberMatched":{total},"numberReturned":{count},'
        f'"features":[{features}]}}'
    )
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "public, max-age=30"
    return response
