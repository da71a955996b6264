"""Small helpers shared by the API views."""

from __future__ import annotations

import math

from rest_framework import serializers


def coordinate(raw, name: str, low: float, high: float) -> float:
    """A finite number within [low, high], from a query string or a JSON value; 400 otherwise."""
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        raise serializers.ValidationError({name: f"{name} est obligatoire."})
    if isinstance(raw, bool):
        raise serializers.ValidationError({name: f"{name} doit être un nombre."})
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise serializers.ValidationError({name: f"{name} doit être un nombre."}) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise serializers.ValidationError(
            {name: f"{name} doit être compris entre {low} et {high}."}
        )
    return value
