"""Asking a Celery worker for something without letting the broker fail the request.

Whatever is asked for is stored first (a mail in the outbox, a layer import's record, a photo
without its thumbnail), and a periodic sweep does what was not published. So publishing gives
up fast (``CELERY_TASK_PUBLISH_RETRY_POLICY``), is logged, and after one failure this process
leaves its publishes to the sweeps for ``BROKER_PAUSE_S``: a request that asks for several
tasks (a transfer mails the service, its agents and every follower; a report with photos also
asks for thumbnails) waits for the broker's timeout once, not once per task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

BROKER_PAUSE_S = 30.0
_broker_down_until = 0.0


def broker_paused() -> bool:
    """Whether a publish failed in this process less than BROKER_PAUSE_S ago."""
    return time.monotonic() < _broker_down_until


def publish(task, *args, **kwargs) -> bool:
    """``task.delay(*args, **kwargs)``; False (logged) when the broker is down or paused, and
    what was asked for is left to its sweep. Never raises for the broker."""
    global _broker_down_until
    if broker_paused():
        return False
    try:
        task.delay(*args, **kwargs)
    except Exception as exc:  # kombu and redis raise several types; none may break a request
        _broker_down_until = time.monotonic() + BROKER_PAUSE_S
        logger.warning("broker unavailable, %s left to its sweep: %s", task.name, exc)
        return False
    return True


def publish_all(task, calls: list[tuple[tuple, dict]]) -> int:
    """Publish ``task`` once per (args, kwargs), stopping at the first failure; how many went."""
    done = 0
    for args, kwargs in calls:
        if not publish(task, *args, **kwargs):
            break
        done += 1
    return done


def on_commit(task, *args, **kwargs) -> None:
    """``publish`` once the current transaction commits (at once outside one)."""
    from django.db import transaction

    transaction.on_commit(_later(task, args, kwargs))


def _later(task, args, kwargs) -> Callable[[], None]:
    return lambda: publish(task, *args, **kwargs)


def reset() -> None:
    """Forget a broker failure (tests that simulate an outage)."""
    global _broker_down_until
    _broker_down_until = 0.0
