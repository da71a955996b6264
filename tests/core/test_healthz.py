"""/healthz reports the database with PostGIS, Redis and Celery, and names what is down."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_is_green_with_everything_up(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"]["database"]["postgis"].startswith("3.")
    assert body["checks"]["database"]["postgresql"]
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["celery"]["workers"]
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_names_redis_when_it_cannot_be_reached(client, stopped_redis_url):
    with override_settings(REDIS_URL=stopped_redis_url):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert "redis" in body["down"]
    assert "database" not in body["down"]
    assert body["checks"]["redis"]["error"]  # the reason, e.g. "Error 111 connecting to ..."


def test_healthz_names_celery_when_no_worker_answers(client, settings):
    # A broker database on which no worker listens: Redis answers, no worker does.
    settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/13"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["celery"]


def test_heartbeat_task_feeds_the_beat_age(client, celery_worker_process):
    from core.health import BEAT_CACHE_KEY
    from core.tasks import heartbeat_task

    heartbeat_task.apply()  # what the beat schedules every 30 s
    from django.core.cache import cache

    assert cache.get(BEAT_CACHE_KEY) is not None
    body = client.get("/healthz").json()
    assert body["checks"]["celery"]["beat_age_seconds"] is not None
    assert body["checks"]["celery"]["beat_age_seconds"] < 5
