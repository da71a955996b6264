"""Server-Timing: how long named steps of a request took, for developer tools and benchmarks.

Off unless ``GRC_SERVER_TIMING`` is on (timings of production requests are not published by
default). ``with timed("route"):`` records a step; the middleware writes the
``Server-Timing`` header (``route;dur=0.412, total;dur=13.8``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

_steps: ContextVar[list[tuple[str, float]] | None] = ContextVar("server_timing", default=None)


@contextmanager
def timed(name: str) -> Iterator[None]:
    steps = _steps.get()
    if steps is None:  # not inside a timed request: no cost beyond this check
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        steps.append((name, (time.perf_counter() - start) * 1000))


class ServerTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = settings.GRC_SERVER_TIMING

    def __call__(self, request):
        if not self.enabled:
            return self.get_response(request)
        steps: list[tuple[str, float]] = []
        token = _steps.set(steps)
        start = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            _steps.reset(token)
        total = (time.perf_counter() - start) * 1000
        response["Server-Timing"] = ", ".join(
            [*(f"{name};dur={ms:.3f}" for name, ms in steps), f"total;dur={total:.3f}"]
        )
        return response
