"""The Django cache (Redis), failing open.

Nothing the cache holds is needed to serve a request: rate-limit counters, a layer import's
progress, the beat's heartbeat. When Redis cannot be reached, a cache call made through
``call()`` gives its default (a read finds nothing, a write is dropped, a rate limit counts as
allowed) and the request goes on: a report is stored, its mail waits in the outbox for the
sweep (notifications.services).

Per process, as notifications.services does for the broker:

- after a failure the cache is not asked again for ``PAUSE_S`` seconds, so that a request
  making several cache calls waits for one socket timeout at most (``CACHE_TIMEOUT``, in the
  settings' CACHES OPTIONS), not one per call;
- a warning is logged at the first failure, then at most once every ``LOG_EVERY_S`` seconds
  with the number of calls that went without the cache meanwhile, and once at recovery;
- ``outage()`` says since when the cache has been failing (shown by /healthz to staff).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAUSE_S = 5.0  # after a failure, this process goes without the cache for so long
LOG_EVERY_S = 60.0  # at most one warning per interval while the outage lasts


@dataclass
class Outage:
    since: dt.datetime  # the first failure of this outage, as seen by this process
    error: str  # the last error
    calls: int  # cache calls that went without the cache since then
    ended: dt.datetime | None = None


_lock = threading.Lock()
_down_until = 0.0  # time.monotonic() before which the cache is not asked
_current: Outage | None = None
_last: Outage | None = None  # the last outage that ended
_logged_at = 0.0
_calls_since_log = 0


def call(operation: Callable[[], T], default: T) -> T:
    """``operation()`` (one or more cache calls), or ``default`` when Redis cannot be reached.

    Only Redis's own errors (connection refused, timeout, out of memory, ...) are caught: a bug
    in the operation still raises.
    """
    if time.monotonic() < _down_until:
        _went_without()
        return default
    try:
        result = operation()
    except redis.RedisError as exc:
        _failed(exc)
        return default
    if _current is not None:
        _recovered()
    return result


def outage() -> Outage | None:
    """The cache outage this process is living through, or None."""
    return _current


def last_outage() -> Outage | None:
    """The last outage this process saw end, or None."""
    return _last


def reset() -> None:
    """Forget every outage (tests: one test's outage must not skip the next test's cache)."""
    global _down_until, _current, _last, _logged_at, _calls_since_log
    with _lock:
        _down_until, _current, _last, _logged_at, _calls_since_log = 0.0, None, None, 0.0, 0


def _went_without() -> None:
    global _calls_since_log
    with _lock:
        if _current is not None:
            _current.calls += 1
        _calls_since_log += 1


def _failed(exc: BaseException) -> None:
    global _down_until, _current, _logged_at, _calls_since_log
    error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    now = time.monotonic()
    with _lock:
        _down_until = now + PAUSE_S
        if _current is None:
            _current = Outage(since=dt.datetime.now(tz=dt.UTC), error=error, calls=0)
        _current.error = error
        _current.calls += 1
        _calls_since_log += 1
        if _logged_at and now - _logged_at < LOG_EVERY_S:
            return
        _logged_at, calls, _calls_since_log = now, _calls_since_log, 0
        since = _current.since
    logger.warning(
        "cache (Redis) unreachable since %s: rate limits not enforced, %s call(s) went "
        "without the cache since the last warning; %s",
        since.isoformat(timespec="seconds"),
        calls,
        error,
    )


def _recovered() -> None:
    global _current, _last, _logged_at, _calls_since_log
    with _lock:
        if _current is None:
            return
        ended, _current = _current, None
        ended.ended = dt.datetime.now(tz=dt.UTC)
        _last, _logged_at, _calls_since_log = ended, 0.0, 0
    logger.warning(
        "cache (Redis) reachable again: rate limits were not enforced from %s to %s "
        "(%s call(s) without the cache)",
        ended.since.isoformat(timespec="seconds"),
        ended.ended.isoformat(timespec="seconds"),
        ended.calls,
    )
