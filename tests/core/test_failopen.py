"""core.failopen: a cache that cannot be reached costs a request one short timeout at most,
is logged once per interval, and is never a 500."""

import json
import logging
import socket
import threading
import time

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from core import failopen, ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_redis(settings):
    """A real TCP peer that accepts connections and never answers, as a Redis stuck or behind
    a dead link does; the cache points at it. Yields the list of connections it received."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []

    def accept():
        while True:
            try:
                peer, _ = server.accept()
            except OSError:
                return
            accepted.append(peer)

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}
    }
    yield accepted
    server.close()
    for peer in accepted:
        peer.close()


@pytest.fixture
def dead_cache(settings, stopped_redis_url):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": stopped_redis_url}}


def test_a_flood_of_health_checks_waits_for_a_hung_redis_once(client, hung_redis, settings):
    """/healthz is public: with Redis hung, each call used to wait its timeout (1 s) on a new
    connection, so a few calls a second held every web worker. The report is kept a while."""
    settings.REDIS_URL = settings.CACHES["default"]["LOCATION"]
    started = time.monotonic()
    assert [client.get("/healthz").status_code for _ in range(5)] == [503] * 5
    assert len(hung_redis) == 1  # one connection, one timeout
    assert time.monotonic() - started < 2 * settings.GRC_HEALTH_TIMEOUT


def test_a_hung_redis_costs_one_timeout_then_is_skipped(client, demo, hung_redis):
    """Three reports in a row: the first waits one socket timeout (then the process goes
    without the cache for a few seconds), the next two do not touch Redis at all."""
    body = json.dumps(
        {
            "category": "signalisation",
            "lon": 3.01054,
            "lat": 50.480422,
            "description": "Panneau tordu.",
        }
    )
    started = time.monotonic()
    first = client.post("/api/reports/", body, content_type="application/json")
    first_took = time.monotonic() - started
    assert first.status_code == 201
    connections = len(hung_redis)
    assert connections == 1
    started = time.monotonic()
    codes = [
        client.post("/api/reports/", body, content_type="application/json").status_code
        for _ in range(2)
    ]
    assert codes == [201, 201]
    assert len(hung_redis) == connections  # not asked again during the pause
    assert failopen.cache.outage() is not None and "Timeout" in failopen.cache.outage().error
    # one 0.5 s timeout plus the report's own work; each cache call waiting its timeout
    # (about ten per report) would take seconds
    assert first_took < 0.5 + 1.5
    assert time.monotonic() - started < 1.5


def test_the_outage_is_logged_once_per_interval_and_its_end_once(dead_cache, caplog, settings):
    caplog.set_level(logging.WARNING, logger="core.failopen")
    request = type("R", (), {"META": {"REMOTE_ADDR": "192.0.2.1"}, "user": None})()
    failopen.cache.pause_s, saved = 0.0, failopen.cache.pause_s  # every call tries Redis
    try:
        for _ in range(30):
            assert ratelimit.check(request, "attempt") is None  # allowed: failing open
    finally:
        failopen.cache.pause_s = saved
    warnings = [r for r in caplog.records if r.name == "core.failopen"]
    assert len(warnings) == 1
    assert "rate limits not enforced" in warnings[0].getMessage()
    assert failopen.cache.outage().calls >= 30

    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": settings.REDIS_URL}
    }  # Redis is back
    failopen.cache._down_until = 0.0  # this process's pause is over
    assert ratelimit.check(request, "attempt") is None
    assert failopen.cache.outage() is None and failopen.cache.last_outage().ended is not None
    warnings = [r for r in caplog.records if r.name == "core.failopen"]
    assert len(warnings) == 2 and "reachable again" in warnings[1].getMessage()
    assert cache.get("anything") is None  # the real cache answers again


def test_a_bug_in_a_cache_call_still_raises():
    """Only Redis's own errors are swallowed: a mistake in our code must not hide as an outage."""

    def broken():
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        failopen.cache.call(broken, None)
    assert failopen.cache.outage() is None


def test_a_bug_in_a_publish_call_is_not_a_broker_outage():
    """A wrong argument to a task raises where it is made; it must not send every mail of the
    process to the sweep for the broker's pause, logged as 'broker unavailable'."""
    from reports.tasks import photo_thumbnails_task

    with pytest.raises(TypeError):
        failopen.publish(photo_thumbnails_task, 1, 2, 3, wrong=1)
    assert failopen.broker.outage() is None and not failopen.broker.paused()


def test_a_layer_import_and_its_page_go_without_the_cache(client, demo, dead_cache, roads_layer):
    """The worker writes an import's progress to the cache and its page reads it: neither is
    a reason to fail the import or its page."""
    from gis_layers.models import Feature, LayerImport
    from gis_layers.services import layer_import_run

    layer = roads_layer("corbeilles-sans-redis")
    point = {"type": "Point", "coordinates": [3.01054, 50.480422]}
    body = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"num": "C-1"}, "geometry": point}],
    }
    upload = SimpleUploadedFile("c.geojson", json.dumps(body).encode())
    client.force_login(demo.manager)
    response = client.post(f"/intranet/couches/{layer.slug}/", {"file": upload, "ref_field": "num"})
    assert response.status_code == 302
    record = LayerImport.objects.get()
    layer_import_run(import_id=record.pk)  # what the worker runs
    assert Feature.objects.get(layer=layer).ref == "C-1"
    page = client.get(f"/intranet/imports/{record.pk}/?format=json")
    assert page.status_code == 200 and page.json()["status"] == "succeeded"
