"""Rate limits on writes (report submissions, "me too", sign-ups), counted in Redis (the
Django cache).

A sliding window per caller (the address the request came from, and the account when signed
in), estimated from the counts of the current and the previous fixed window. Two tiers:

- ``"attempt"``: every write attempt, and reading a photo's position, counted *before any work*
  (a photo is decoded, a form validated): a flood costs a few cache round trips per request;
- ``"report"``, ``"signup"``: what is actually stored, counted with ``count()`` *after* the
  write inside its transaction, which is undone when over the limit. A citizen correcting a
  form does not use up their submissions.

Exceeding either gives a 429 with ``Retry-After`` (``refused()``); nothing is stored.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    message: str


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or the first X-Forwarded-For hop when the portal
    runs behind a proxy the settings trust (GRC_TRUSTED_PROXY_COUNT)."""
    hops = settings.GRC_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        parts = [p.strip() for p in forwarded.split(",") if p.strip()]
        if len(parts) >= hops:
            return parts[-hops]
    return request.META.get("REMOTE_ADDR", "")


_clock = time.time  # replaced in tests


def _hit(key: str, limit: Limit) -> int | None:
    """Count one more; seconds to wait if over the limit, else None.

    A sliding window, estimated from two fixed ones (the current window's count plus the
    previous window's, weighted by how much of it still overlaps the last ``seconds``): a burst
    straddling a window boundary is counted whole, as a fixed window would not.
    """
    now = _clock()
    window, into = divmod(now, limit.seconds)
    current = f"rl:{key}:{limit.seconds}:{int(window)}"
    previous = f"rl:{key}:{limit.seconds}:{int(window) - 1}"
    if cache.add(current, 1, timeout=2 * limit.seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(current)
        except ValueError:  # expired between add and incr
            cache.add(current, 1, timeout=2 * limit.seconds + 1)
            count = 1
    overlap = 1 - into / limit.seconds
    estimate = count + (cache.get(previous) or 0) * overlap
    if estimate > limit.count:
        return max(1, int(limit.seconds - into))
    return None


def check(request, scope: str) -> Refusal | None:
    """Count a write of ``scope`` ("report", "signup") for this caller; a Refusal if too many."""
    limits = settings.GRC_RATE_LIMITS[scope]
    callers = [("ip", hashlib.sha256(client_address(request).encode()).hexdigest()[:20])]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        callers.append(("user", str(user.pk)))
    for kind, who in callers:
        for limit in limits:
            wait = _hit(f"{scope}:{kind}:{who}", Limit(*limit))
            if wait is not None:
                seconds = limit[1]
                minutes = (
                    f"{seconds} secondes"
                    if seconds < 60
                    else "une minute"
                    if seconds == 60
                    else "une heure"
                    if seconds == 3600
                    else f"{seconds // 60} minutes"
                )
                return Refusal(
                    retry_after=max(wait, 1),
                    message=(
                        f"Trop d'envois : au plus {limit[0]} en {minutes}. "
                        f"Réessayez dans {max(wait, 1)} secondes."
                    ),
                )
    return None


class TooMany(Exception):
    """Raised by count(): the write just made in this transaction is one too many."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.message)
        self.refusal = refusal


def count(request, scope: str) -> None:
    """check(), raising TooMany: called after a write inside ``transaction.atomic()``, so that
    only what is stored is counted and a write over the limit is rolled back."""
    refusal = check(request, scope)
    if refusal is not None:
        raise TooMany(refusal)


def refused(response, refusal: Refusal):
    """The response as a 429 with its Retry-After."""
    response.status_code = 429
    response["Retry-After"] = str(refusal.retry_after)
    return response
