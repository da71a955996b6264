"""The tracking page's map (templates/reports/_place_map.html), drawn from the report alone so
that the page's view needs nothing more."""

from django import template
from django.conf import settings

from core.maps import map_config

from ..selectors import PLACE_EQUIPMENT_RADIUS_M, report_public_place

register = template.Library()


@register.inclusion_tag("reports/_place_map.html")
def report_place_map(report) -> dict:
    """The report's public point and the equipment around it, or nothing (a home's category,
    no point)."""
    place = report_public_place(report)
    return {
        "place": place,
        "map_config": map_config() if place else None,
        "precision": settings.GRC_PUBLIC_PRECISION_M,
        "radius": PLACE_EQUIPMENT_RADIUS_M,
    }
