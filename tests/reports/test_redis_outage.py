"""With Redis down (a real redis-server started then shut down, for the cache and the broker)
citizens still report, through the form and the API; the acknowledgements leave once Redis is
back, and the operator reads in /healthz that rate limits were not enforced meanwhile."""

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import PendingSignup
from core import failopen
from notifications.models import OutboxMail
from notifications.tasks import outbox_flush_task
from reports.models import Report
from tests.brokers import broker_at
from tests.images import exif_with_gps, jpeg

pytestmark = pytest.mark.django_db

TOKEN = "healthz-test-token-0123456789abcdefghijklmnop"
REPORT = {
    "category": "signalisation",
    "lon": "3.01054",
    "lat": "50.480422",
    "description": "Panneau tordu au carrefour.",
}


@pytest.fixture
def redis_down(settings, stopped_redis_url):
    """Point the cache, the health check and the broker at a Redis that is not there; the
    returned function brings them back (Redis is up again)."""
    saved = settings.CACHES, settings.REDIS_URL
    settings.GRC_HEALTHZ_TOKEN = TOKEN
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": stopped_redis_url}}
    settings.REDIS_URL = stopped_redis_url
    broker = broker_at(stopped_redis_url)
    broker.__enter__()

    def recover():
        broker.__exit__(None, None, None)
        settings.CACHES, settings.REDIS_URL = saved

    yield recover
    broker.__exit__(None, None, None)


def test_a_citizen_reports_with_redis_down_and_is_acknowledged_after(
    client, demo, redis_down, smtp_server, django_capture_on_commit_callbacks
):
    for page in ("/", "/signaler/", "/jsi18n/", "/signalements/", "/compte/connexion/"):
        assert client.get(page).status_code == 200, page

    # the form without JavaScript (tests/reports/test_journey.py), then the API
    form = dict(REPORT, action="submit", privacy="on", contact_email="form@example.org")
    photo = SimpleUploadedFile("panneau.jpg", jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):  # the publishes fail (mail, photo)
        sent = client.post("/signaler/", {**form, "photos": photo})
    assert sent.status_code == 302, html.unescape(sent.content.decode())[:2000]
    api_body = dict(REPORT, contact_email="api@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            "/api/reports/", json.dumps(api_body), content_type="application/json"
        )
    assert created.status_code == 201, created.content

    assert set(Report.objects.values_list("contact_email", flat=True)) == {
        "form@example.org",
        "api@example.org",
    }
    assert Report.objects.get(contact_email="form@example.org").photos.count() == 1
    waiting = OutboxMail.objects.filter(topic="acknowledgement")
    assert waiting.count() == 2 and set(waiting.values_list("state", flat=True)) == {"pending"}
    assert smtp_server.messages == []

    # the operator sees it: Redis down, rate limits not enforced since the first failure
    health = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert health.status_code == 503
    limits = health.json()["rate_limits"]
    assert limits["enforced"] is False and limits["since"] and limits["calls_without"] > 0

    redis_down()  # Redis is back: the beat's sweep sends what waited
    outbox_flush_task.apply()
    assert sorted(m["X-Envelope-To"] for m in smtp_server.messages) == [
        "api@example.org",
        "form@example.org",
    ]
    assert all("Accusé de réception" in str(m["Subject"]) for m in smtp_server.messages)

    # and the limits count again (after this process's pause), the outage kept for the record
    failopen.cache._down_until = 0.0  # this process's pause is over
    assert client.post("/signaler/", form).status_code == 302
    assert failopen.cache.outage() is None
    health = client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert health["rate_limits"]["enforced"] is True
    assert health["rate_limits"]["last_outage"]["from"] == limits["since"]


def test_with_redis_down_a_flood_is_not_limited_but_every_report_is_stored(
    client, demo, redis_down
):
    """Failing open has a price, said in the README: nothing is counted during the outage."""
    body = json.dumps(dict(REPORT, contact_email="api@example.org"))
    codes = [
        client.post("/api/reports/", body, content_type="application/json").status_code
        for _ in range(7)
    ]
    assert codes == [201] * 7
    assert Report.objects.count() == 7


def test_the_photo_position_read_and_the_sign_up_work_with_redis_down(client, demo, redis_down):
    """The other writes counted before any work: a photo's position read, a sign-up."""
    photo = SimpleUploadedFile(
        "p.jpg", jpeg(exif=exif_with_gps(3.01054, 50.480422)), content_type="image/jpeg"
    )
    read = client.post(
        "/signaler/", {"category": "signalisation", "action": "photo", "place_photo": photo}
    )
    assert read.status_code == 200 and "3.01054" in read.content.decode()
    signup = client.post(
        "/compte/inscription/",
        {
            "email": "nouvelle@example.org",
            "password1": "Un-mot-de-passe-2026",
            "password2": "Un-mot-de-passe-2026",
        },
    )
    # stored and mailed, not the form shown again (it would hold the address too)
    assert signup.status_code == 200 and "Vérifiez votre adresse" in signup.content.decode()
    assert PendingSignup.objects.filter(user__email="nouvelle@example.org").exists()
    assert OutboxMail.objects.filter(to="nouvelle@example.org", topic="account:verify").exists()
