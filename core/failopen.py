"""Redis, as cache and as Celery broker, failing open: an outage never fails a request.

Nothing the cache holds is needed to serve a request (rate-limit counters, a layer import's
progress, the beat's heartbeat), and whatever a request asks a worker for is stored first (a
mail in the outbox, a layer import's record, a photo without its thumbnail) and done by a
periodic sweep if the broker did not get it. So each is reached through a ``Breaker``:

- ``cache.call(operation, default)``: the operation's result, or ``default`` when Redis cannot
  be reached (a read finds nothing, a write is dropped, a rate limit counts as allowed);
- ``publish(task, ...)``: ``task.delay(...)``, or False when the broker cannot be reached.

Per process and per breaker: after a failure the dependency is not asked again for
``pause_s`` seconds, so that a request making several calls waits for one timeout at most (the
cache's ``CACHE_TIMEOUT``, the broker's publish retry policy), not one per call; a warning is
logged at the first failure, then at most once every ``LOG_EVERY_S`` seconds with the number of
calls that went without, and once at recovery; ``outage()`` and ``last_outage()`` are shown by
/healthz to staff. Only the dependency's own errors are caught: a bug in an operation (a wrong
argument to a task) still raises, it is not an outage.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import kombu.exceptions
import redis

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOG_EVERY_S = 60.0  # at most one warning per interval while an outage lasts


@dataclass
class Outage:
    since: dt.datetime  # the first failure of this outage, as seen by this process
    error: str  # the last error
    calls: int  # calls that went without the dependency since then
    ended: dt.datetime | None = None


class Breaker:
    """One dependency's outage memory in this process (see the module's docstring)."""

    def __init__(
        self, name: str, *, pause_s: float, errors: tuple[type[BaseException], ...], meaning: str
    ):
        self.name, self.pause_s, self.errors, self.meaning = name, pause_s, errors, meaning
        self._lock = threading.Lock()
        self.reset()

    def call(self, operation: Callable[[], T], default: T) -> T:
        """``operation()``, or ``default`` when the dependency cannot be reached."""
        if self.paused():
            with self._lock:
                if self._current is not None:
                    self._current.calls += 1
                self._calls_since_log += 1
            return default
        try:
            result = operation()
        except self.errors as exc:
            self._failed(exc)
            return default
        if self._current is not None:
            self._recovered()
        return result

    def paused(self) -> bool:
        """Whether a call failed in this process less than ``pause_s`` ago (not asked now)."""
        return time.monotonic() < self._down_until

    def outage(self) -> Outage | None:
        """The outage this process is living through, or None."""
        return self._current

    def last_outage(self) -> Outage | None:
        """The last outage this process saw end, or None."""
        return self._last

    def reset(self) -> None:
        """Forget every outage (tests: one test's outage must not pause the next test)."""
        with self._lock:
            self._down_until, self._logged_at, self._calls_since_log = 0.0, 0.0, 0
            self._current: Outage | None = None
            self._last: Outage | None = None

    def _failed(self, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.pause_s
            if self._current is None:
                self._current = Outage(since=dt.datetime.now(tz=dt.UTC), error=error, calls=0)
            self._current.error = error
            self._current.calls += 1
            self._calls_since_log += 1
            if self._logged_at and now - self._logged_at < LOG_EVERY_S:
                return
            self._logged_at, calls, self._calls_since_log = now, self._calls_since_log, 0
            since = self._current.since
        logger.warning(
            "%s unreachable since %s: %s, %s call(s) went without it since the last warning; %s",
            self.name,
            since.isoformat(timespec="seconds"),
            self.meaning,
            calls,
            error,
        )

    def _recovered(self) -> None:
        with self._lock:
            if self._current is None:
                return
            ended, self._current = self._current, None
            ended.ended = dt.datetime.now(tz=dt.UTC)
            self._last, self._logged_at, self._calls_since_log = ended, 0.0, 0
        logger.warning(
            "%s reachable again: %s from %s to %s (%s call(s) went without it)",
            self.name,
            self.meaning,
            ended.since.isoformat(timespec="seconds"),
            ended.ended.isoformat(timespec="seconds"),
            ended.calls,
        )


cache = Breaker(
    "cache (Redis)",
    pause_s=5.0,
    errors=(redis.RedisError,),
    meaning="rate limits not enforced",
)
# Publishing gives up fast (CELERY_TASK_PUBLISH_RETRY_POLICY); kombu wraps the transport's
# errors in OperationalError, some paths let redis's or the socket's own through.
broker = Breaker(
    "broker (Redis)",
    pause_s=30.0,
    errors=(kombu.exceptions.OperationalError, redis.RedisError, ConnectionError, TimeoutError),
    meaning="tasks left to their sweeps",
)


def publish(task, *args, **kwargs) -> bool:
    """``task.delay(*args, **kwargs)``; False when the broker cannot be reached (what was asked
    for is stored and left to its sweep). Never raises for the broker."""
    return broker.call(lambda: task.delay(*args, **kwargs) is not None, False)


def reset() -> None:
    """Forget the outages of both breakers (tests)."""
    cache.reset()
    broker.reset()
