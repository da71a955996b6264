"""/healthz reports the database with PostGIS, Redis and Celery, and names what is down: the
public reads only whether the portal is up; staff and monitoring (a token) read the details."""

import pytest
from django.test import override_settings

from config.celery import app
from core import health

pytestmark = pytest.mark.django_db

TOKEN = "healthz-test-token-0123456789abcdefghijklmnop"


@pytest.fixture
def monitoring(client, settings):
    """The client as the operator's monitoring: the HEALTHZ_TOKEN in the Authorization header."""
    settings.GRC_HEALTHZ_TOKEN = TOKEN
    return lambda path="/healthz": client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture
def celery_pings(monkeypatch):
    """How many broadcast pings reach the workers (each still sent, through Celery's own call)."""
    sent = []
    real = app.control.ping

    def counted(*args, **kwargs):
        sent.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(app.control, "ping", counted)
    return sent


def test_healthz_is_green_with_everything_up(monitoring, celery_worker_process):
    response = monitoring()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"]["database"]["postgis"].startswith("3.")
    assert body["checks"]["database"]["postgresql"]
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["celery"]["workers"]
    assert body["rate_limits"] == {"enforced": True}
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_public_reads_only_whether_the_portal_is_up(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    text = response.content.decode()
    for secret in ("postgis", "postgresql", "version", "workers", "grc-test-", "celery@"):
        assert secret not in text
    assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]


def test_the_public_reads_503_without_the_reason_when_redis_is_down(client, stopped_redis_url):
    with override_settings(REDIS_URL=stopped_redis_url):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error"}
    assert stopped_redis_url.split(":")[2].split("/")[0] not in response.content.decode()


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token-0123456789abcdefghijklmnopqrstu",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Token {TOKEN}",
        f"Basic {TOKEN}",
        "Bearer ",
        TOKEN,
    ],
)
def test_a_wrong_token_reads_what_the_public_reads(client, settings, authorization):
    settings.GRC_HEALTHZ_TOKEN = TOKEN
    response = client.get("/healthz", headers={"Authorization": authorization})
    assert set(response.json()) == {"status"}


def test_a_token_in_the_url_is_not_read(client, settings):
    settings.GRC_HEALTHZ_TOKEN = TOKEN
    for name in ("token", "access_token", "key"):
        assert set(client.get(f"/healthz?{name}={TOKEN}").json()) == {"status"}


def test_without_a_configured_token_no_bearer_reads_the_details(client, settings):
    settings.GRC_HEALTHZ_TOKEN = ""
    response = client.get("/healthz", headers={"Authorization": "Bearer "})
    assert set(response.json()) == {"status"}


def test_staff_details_role_by_role(client, demo):
    """The operator and the organisations' administrators read the details; agents, managers
    and citizens read what the public reads (accounts.permissions.can_read_health_details)."""
    readers = {demo.superuser, demo.lib_admin, demo.cahc_admin}
    for user in (
        demo.citizen,
        demo.agent,
        demo.manager,
        demo.reception_agent,
        demo.cahc_agent,
        *readers,
    ):
        client.force_login(user)
        body = client.get("/healthz").json()
        assert ("checks" in body) is (user in readers), user.email
        client.logout()


def test_healthz_names_redis_when_it_cannot_be_reached(monitoring, stopped_redis_url):
    with override_settings(REDIS_URL=stopped_redis_url):
        response = monitoring()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert "redis" in body["down"]
    assert "database" not in body["down"]
    assert body["checks"]["redis"]["error"]  # the reason, e.g. "Error 111 connecting to ..."
    assert body["rate_limits"]["enforced"] is False


def test_healthz_names_celery_when_no_worker_answers(monitoring, settings):
    # A broker database on which no worker listens: Redis answers, no worker does.
    settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/13"
    response = monitoring()
    assert response.status_code == 503
    assert response.json()["down"] == ["celery"]


def test_heartbeat_task_feeds_the_beat_age(monitoring, celery_worker_process):
    from core.health import BEAT_CACHE_KEY
    from core.tasks import heartbeat_task

    heartbeat_task.apply()  # what the beat schedules every 30 s
    from django.core.cache import cache

    assert cache.get(BEAT_CACHE_KEY) is not None
    body = monitoring().json()
    assert body["checks"]["celery"]["beat_age_seconds"] is not None
    assert body["checks"]["celery"]["beat_age_seconds"] < 5


def test_repeated_calls_ping_celery_once_per_interval(
    client, monitoring, celery_worker_process, celery_pings, monkeypatch
):
    """A flood of /healthz (anyone may call it) costs the workers one ping per interval."""
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    body = monitoring().json()
    assert len(celery_pings) == 1
    assert body["checks"]["celery"]["workers"]  # the kept answer still names the workers
    assert body["checked_seconds_ago"] < health.CHECK_TTL_S
    monkeypatch.setattr(health, "CHECK_TTL_S", 0.0)  # the interval has passed
    assert client.get("/healthz").status_code == 200
    assert len(celery_pings) == 2


def test_a_missing_worker_is_also_kept_for_the_interval(client, settings, celery_pings):
    """No worker answering costs a ping timeout: a flood must not pay it at every call."""
    settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/13"
    assert [client.get("/healthz").status_code for _ in range(3)] == [503] * 3
    assert len(celery_pings) == 1


def test_the_web_scope_needs_only_the_database(client, monitoring, stopped_redis_url):
    """The web container's own check: it serves citizens without Redis (core.failopen), so a
    Redis outage must not take it out of its proxy's rotation; the full check says 503."""
    with override_settings(REDIS_URL=stopped_redis_url):
        web = client.get("/healthz?scope=web")
        full = client.get("/healthz")
        detailed = monitoring("/healthz?scope=web").json()
    assert web.status_code == 200 and web.json() == {"status": "ok"}
    assert full.status_code == 503
    assert list(detailed["checks"]) == ["database"]
