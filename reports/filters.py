"""Filters of the public map and list of reports, read from query parameters."""

from __future__ import annotations

import datetime as dt

from rest_framework import serializers

from tracking.models import Status

from .selectors import MapFilters


def map_filters(params) -> MapFilters:
    """The public map's and list's filters from query parameters; 400-style errors (DRF
    ValidationError) naming the parameter."""

    def listed(name: str) -> tuple[str, ...]:
        raw = params.get(name, "")
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        if len(values) > 30 or any(len(v) > 80 for v in values):
            raise serializers.ValidationError({name: f"{name} : liste trop longue."})
        return values

    statuses = listed("status")
    unknown = sorted(set(statuses) - set(Status.values))
    if unknown:
        raise serializers.ValidationError(
            {"status": f"États inconnus : {', '.join(unknown)} ({', '.join(Status.values)})."}
        )
    dates = {}
    for name in ("since", "until"):
        raw = params.get(name, "")
        try:
            dates[name] = dt.date.fromisoformat(raw) if raw else None
        except ValueError:
            raise serializers.ValidationError({name: f"{name} : une date AAAA-MM-JJ."}) from None
    if dates["since"] and dates["until"] and dates["since"] > dates["until"]:
        raise serializers.ValidationError({"since": "since est après until."})
    return MapFilters(listed("category"), statuses, dates["since"], dates["until"])
