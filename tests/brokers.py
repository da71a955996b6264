"""Real Redis servers for outage tests: the app publishing to another broker for a while."""

from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager

from config.celery import app


@contextmanager
def broker_at(url):
    """Publish to another broker for a while, leaving the app's own pools untouched."""
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url, app._pool, app.amqp._producer_pool = url, None, None
    try:
        yield
    finally:
        temporary = app._pool
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved
        if temporary is not None:
            temporary.force_close_all()


@contextmanager
def redis_server(port: int):
    """A throwaway redis-server on 127.0.0.1:port (nothing kept on disk), stopped on exit;
    yields its client."""
    import redis

    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(
        [*command, "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield client
    finally:
        # SIGTERM: it stops at once and saves nothing (no --save). A client's SHUTDOWN would
        # cost seconds: redis-py retries, with backoff, the connection the server closes.
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
