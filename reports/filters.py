"""Filters of the public map and list of reports: the requests' shared filters
(tracking.filters) restricted to what the public sees: period, problem and status."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import serializers

from tracking.filters import RequestFilters, filters_from

PUBLIC_FILTERS = ("since", "until", "category", "status")


def map_filters(params) -> RequestFilters:
    """The public map's and list's filters; ValidationError naming the parameter."""
    return filters_from(params, allowed=PUBLIC_FILTERS)


def map_filters_api(params) -> RequestFilters:
    """The same for an API: a DRF 400 naming the parameter."""
    try:
        return map_filters(params)
    except ValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None
