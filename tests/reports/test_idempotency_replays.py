"""An Idempotency-Key replays only the same body: another body under a used key is an attempt
like any other (counted by the rate limit) and is refused (422) before any photo is decoded."""

import json
import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core import idempotency
from reports.models import Photo, Report
from tests.images import jpeg
from tests.reports.test_photos import png_bomb

pytestmark = pytest.mark.django_db

URL = "/api/reports/"
BODY = {
    "category": "signalisation",
    "lon": 3.01054,
    "lat": 50.480422,
    "description": "Panneau tordu.",
}
FIELDS = {
    "category": "nid-de-poule",  # a photo is required
    "lon": "3.01054",
    "lat": "50.480422",
    "description": "Nid-de-poule profond.",
    "contact_email": "habitant@example.org",
}
BROKEN = jpeg(640, 480)[:400]  # a JPEG header, then nothing: unreadable once decoded
BOMB = png_bomb(40_000, 40_000)  # 1.6 gigapixels declared in a few hundred bytes


def post_json(client, body, key):
    return client.post(
        URL, json.dumps(body), content_type="application/json", headers={"Idempotency-Key": key}
    )


def post_photo(client, data: bytes, key, **fields):
    photo = SimpleUploadedFile("photo.jpg", data, content_type="image/jpeg")
    return client.post(
        URL, {**FIELDS, **fields, "photos": [photo]}, headers={"Idempotency-Key": key}
    )


def is_key_reused(response) -> bool:
    return response.status_code == 422 and "Idempotency-Key" in response.json().get("detail", "")


def test_another_json_body_under_a_used_key_is_refused_and_counted(client, demo, settings):
    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "attempt": [(10, 60)]}
    key = str(uuid.uuid4())
    assert post_json(client, BODY, key).status_code == 201  # attempt 1
    answers = [
        post_json(client, {**BODY, "description": f"Autre chose {i}."}, key) for i in range(25)
    ]
    assert all(is_key_reused(a) for a in answers[:9])  # attempts 2 to 10
    assert {a.status_code for a in answers[9:]} == {429}  # the rate limit holds
    assert "Retry-After" in answers[-1]
    assert Report.objects.count() == 1
    # The same body (its keys in another order) under the same key is still a replay, answered
    # although the caller is over the attempt limit: a replay is not counted.
    replay = post_json(client, dict(reversed(BODY.items())), key)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(("photo", "decoded_says"), [(BROKEN, "illisible"), (BOMB, "pixels")])
def test_another_photo_under_a_used_key_is_refused_without_decoding_it(
    client, demo, photo, decoded_says
):
    """The file would be refused for what it is if it were decoded (shown with a fresh key);
    under a key that served another photo it is refused for the key, before any decoding."""
    fresh = post_photo(client, photo, str(uuid.uuid4()))
    assert fresh.status_code == 422 and decoded_says in json.dumps(fresh.json(), ensure_ascii=False)
    key = str(uuid.uuid4())
    assert post_photo(client, jpeg(), key).status_code == 201
    reused = post_photo(client, photo, key)
    assert is_key_reused(reused)
    assert "errors" not in reused.json()  # the photo check never ran
    assert Report.objects.count() == 1 and Photo.objects.count() == 1


def test_the_same_photo_under_the_same_key_replays(client, demo, settings):
    key = str(uuid.uuid4())
    first = post_photo(client, jpeg(), key)
    assert first.status_code == 201
    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "attempt": [(1, 60)]}
    replay = post_photo(client, jpeg(), key)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["reference"] == first.json()["reference"]
    other_field = post_photo(client, jpeg(), key, description="Un autre texte.")
    assert other_field.status_code == 429  # not a replay: an attempt, over the limit
    assert Report.objects.count() == 1 and Photo.objects.count() == 1


def test_the_same_key_for_another_endpoint_is_not_a_replay(client, demo):
    key = str(uuid.uuid4())
    assert post_json(client, BODY, key).status_code == 201
    request = APIRequestFactory().post(URL, BODY, format="json", headers={"Idempotency-Key": key})
    drf = Request(request, parsers=[JSONParser()])
    attempts = []
    same = idempotency.begin(
        drf, AnonymousUser(), "reports:create", attempt=lambda: attempts.append(1)
    )
    assert same["Idempotent-Replayed"] == "true" and same.data["reference"]
    assert attempts == []  # a replay is not counted
    with pytest.raises(idempotency.KeyReused):
        idempotency.begin(drf, AnonymousUser(), "reports:metoo", attempt=lambda: attempts.append(1))
    assert attempts == [1]  # counted, then refused


def test_a_fresh_key_reads_each_photo_once(client, demo, monkeypatch):
    """The digest naming the request reuses the photo check's (CheckedPhoto.digest, of the
    bytes as sent): a fresh key hashes no upload on the way in. A used key hashes them once,
    as sent, before anything is decoded, and the request ends there."""
    hashed = []
    real = idempotency.file_digest
    monkeypatch.setattr(
        idempotency, "file_digest", lambda upload: hashed.append(upload.name) or real(upload)
    )
    key = str(uuid.uuid4())
    first = post_photo(client, jpeg(), key)
    assert first.status_code == 201 and hashed == []
    replay = post_photo(client, jpeg(), key)
    assert replay["Idempotent-Replayed"] == "true" and hashed == ["photo.jpg"]
    assert replay.json()["reference"] == first.json()["reference"]
