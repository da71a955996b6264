"""Collections that are not layers, served by the OGC API beside them (reports, later others).

A higher app registers one in its AppConfig.ready(); this app never imports it. Each collection
is public and builds its pages in PostGIS, like the layers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .selectors import BBox, ItemsPage


@dataclass(frozen=True)
class ExtraCollection:
    id: str
    title: str
    description: str
    # (bbox, limit, offset) -> a page of GeoJSON features built by PostGIS
    items: Callable[[BBox | None, int, int], ItemsPage]
    # item id -> the feature's GeoJSON text, or None
    item: Callable[[str], str | None]
    extent: list[float] | None = None
    licence: str = ""


_REGISTRY: dict[str, ExtraCollection] = {}


def register(collection: ExtraCollection) -> None:
    _REGISTRY[collection.id] = collection


def extra_collections() -> list[ExtraCollection]:
    return list(_REGISTRY.values())


def extra_collection(collection_id: str) -> ExtraCollection | None:
    return _REGISTRY.get(collection_id)
