"""Address search in PostgreSQL (trigram word similarity), and the pluggable backends."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction

from .services import normalise

MAX_QUERY = 200
_LEADING_NUMBER = re.compile(r"^(\d{1,5})\b")


@dataclass(frozen=True)
class AddressHit:
    label: str
    lon: float
    lat: float
    insee: str
    city: str
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


SEARCH_SQL = """
    SELECT label, ST_X(p), ST_Y(p), insee, city, score
    FROM (
        SELECT label, ST_Transform(location, 4326) AS p, insee, city, number,
               street, suffix, word_similarity(%(q)s, search_text) AS score
        FROM addresses_address
        WHERE %(q)s <%% search_text  -- the GIN trigram index
    ) hits
    ORDER BY (number IS NOT DISTINCT FROM %(number)s) DESC, score DESC, street,
             number NULLS FIRST, suffix
    LIMIT %(limit)s
"""


def address_search(query: str, *, limit: int = 10) -> list[AddressHit]:
    """Addresses of the territory matching what was typed ("12 rue des tilleuls", "tilleul
    libercourt"), accents and case ignored, typos tolerated; the house number typed first."""
    q = normalise(query[:MAX_QUERY])
    if len(q) < 3:
        return []
    match = _LEADING_NUMBER.match(q)
    params = {"q": q, "number": int(match.group(1)) if match else None, "limit": limit}
    # The threshold of the indexed "<%" operator, for this transaction only.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.5")
        cursor.execute(SEARCH_SQL, params)
        rows = cursor.fetchall()
    return [
        AddressHit(label, round(lon, 6), round(lat, 6), insee, city, round(score, 3))
        for label, lon, lat, insee, city, score in rows
    ]


class LocalBackend:
    """The address table in our database: works offline (the default)."""

    def search(self, query: str, *, limit: int = 10) -> list[AddressHit]:
        return address_search(query, limit=limit)


class BanApiBackend:
    """The BAN web API (api-adresse.data.gouv.fr), for production where it is reachable.

    Results outside the portal's communes are dropped. A network failure falls back to the local
    table, so that the search keeps working.
    """

    def __init__(self, url: str, timeout: float = 2.0):
        self.url, self.timeout = url, timeout

    def search(self, query: str, *, limit: int = 10) -> list[AddressHit]:
        from territory.models import Commune

        params = urllib.parse.urlencode({"q": query[:MAX_QUERY], "limit": limit * 2})
        try:
            with urllib.request.urlopen(f"{self.url}?{params}", timeout=self.timeout) as answer:  # noqa: S310 (configured https URL)
                data = json.load(answer)
        except (OSError, ValueError):
            return address_search(query, limit=limit)
        ours = set(Commune.objects.filter(epci__isnull=False).values_list("insee", flat=True))
        hits = []
        for feature in data.get("features", []):
            props, (lon, lat) = feature["properties"], feature["geometry"]["coordinates"]
            if props.get("citycode") in ours:
                hits.append(
                    AddressHit(
                        props.get("label", ""),
                        round(lon, 6),
                        round(lat, 6),
                        props["citycode"],
                        props.get("city", ""),
                        round(float(props.get("score", 0)), 3),
                    )
                )
        return hits[:limit]


def address_backend() -> LocalBackend | BanApiBackend:
    if settings.GRC_ADDRESS_BACKEND == "ban":
        return BanApiBackend(settings.GRC_BAN_API_URL)
    return LocalBackend()
