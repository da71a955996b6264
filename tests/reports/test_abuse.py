"""Abuse: rate limits on submissions (API, form, sign-up), replays not counted."""

import html
import json
import uuid

import pytest

from accounts.models import User
from reports.models import Report

pytestmark = pytest.mark.django_db

BODY = {
    "category": "signalisation",
    "lon": 3.01054,
    "lat": 50.480422,
    "description": "Panneau tordu.",
}


def post(client, **headers):
    return client.post(
        "/api/reports/", json.dumps(BODY), content_type="application/json", headers=headers
    )


def test_the_sixth_submission_in_a_minute_from_one_address_is_429(client, demo):
    assert [post(client).status_code for _ in range(5)] == [201] * 5
    refused = post(client)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "au plus 5 en une minute" in refused.json()["errors"]["non_field_errors"][0]
    assert Report.objects.count() == 5


def test_a_flood_of_100_gives_95_refusals_and_5_reports(client, demo):
    codes = [post(client).status_code for _ in range(100)]
    assert codes.count(201) == 5 and codes.count(429) == 95
    assert Report.objects.count() == 5


def test_another_address_is_not_blocked(client, demo):
    for _ in range(6):
        post(client)
    assert post(client, **{"X-Forwarded-For": "1.2.3.4"}).status_code == 429  # no proxy trusted
    other = client.post(
        "/api/reports/", json.dumps(BODY), content_type="application/json", REMOTE_ADDR="10.0.0.2"
    )
    assert other.status_code == 201


def test_a_replayed_key_is_not_counted(client, demo):
    key = str(uuid.uuid4())
    assert post(client, **{"Idempotency-Key": key}).status_code == 201
    for _ in range(4):
        post(client)
    assert post(client).status_code == 429
    replay = post(client, **{"Idempotency-Key": key})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"


def test_the_form_refuses_too_many_with_a_message(client, demo):
    form = dict(BODY, action="submit", privacy="on", lon="3.01054", lat="50.480422")
    for _ in range(5):
        assert client.post("/signaler/", form).status_code == 302
    refused = client.post("/signaler/", form)
    assert refused.status_code == 429 and "Trop d'envois" in html.unescape(refused.content.decode())
    assert Report.objects.count() == 5


def test_sign_ups_are_limited_too(client, db):
    for n in range(5):
        client.post(
            "/compte/inscription/",
            {
                "email": f"u{n}@example.org",
                "password1": "Tilleuls-du-62820",
                "password2": "Tilleuls-du-62820",
            },
        )
    refused = client.post(
        "/compte/inscription/",
        {
            "email": "u9@example.org",
            "password1": "Tilleuls-du-62820",
            "password2": "Tilleuls-du-62820",
        },
    )
    assert refused.status_code == 429 and "Trop d'envois" in html.unescape(refused.content.decode())
    assert User.objects.filter(email__startswith="u").count() == 5
