"""The report API: creation, bad input, Idempotency-Key, reading, no personal data in public."""

import json
import threading
import uuid

import pytest
from django.db import connection
from django.test import Client

from notifications.models import OutboxMail
from reports.models import Report
from tests.images import checked_jpeg

pytestmark = pytest.mark.django_db

URL = "/api/reports/"
GOOD = {
    "category": "signalisation",  # roads, no photo required: the JSON API can send it
    "lon": 3.01054,
    "lat": 50.480422,
    "description": "Un trou profond devant le numéro 12.",
    "contact_email": "habitant@example.org",
    "contact_phone": "06 12 34 56 78",
}


def post(client, body, **headers):
    return client.post(URL, json.dumps(body), content_type="application/json", headers=headers)


def test_a_report_is_created_routed_and_acknowledged(client, demo, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        response = post(client, GOOD)
    assert response.status_code == 201, response.json()
    body = response.json()
    report = Report.objects.get(reference=body["reference"])
    assert report.channel == "api" and report.service == demo.voirie
    assert body["service"] == {"name": "Voirie", "organisation": "Ville de Libercourt"}
    assert body["location"] == {"lon": 3.01054, "lat": 50.480422}
    assert body["tracking_url"].endswith(
        f"/signalements/{report.reference}/?cle={report.access_key}"
    )
    assert body["contact_email"] == "habitant@example.org"
    assert [e["type"] for e in body["timeline"]] == ["created", "routed"]
    assert OutboxMail.objects.filter(reference=report.reference, to="habitant@example.org").exists()


@pytest.mark.parametrize(
    ("change", "status", "field", "fragment"),
    [
        ({"lon": 3.0225, "lat": 50.5135}, 422, "location", "Phalempin"),
        ({"lon": 50.480422, "lat": 3.01054}, 422, "location", "inversées"),
        ({"lon": "NaN"}, 400, "lon", "compris entre"),
        ({"lon": "abc"}, 400, "lon", "nombre"),
        ({"lat": None}, 400, "lat", "nul"),
        ({"lat": ""}, 400, "lat", "obligatoire"),
        ({"lon": 400}, 400, "lon", "compris entre"),
        ({"category": "inconnue"}, 400, "category", "inconnue"),
        ({"category": None}, 400, "category", ""),
        ({"description": ""}, 422, "description", "Décrivez"),
        ({"description": "x" * 50_000}, 422, "description", "dépasse"),
        ({"contact_email": "pas-une-adresse"}, 400, "contact_email", ""),
        ({"equipment": "un"}, 400, "equipment", ""),
        ({"equipment": 987654321}, 422, "equipment", "inconnu"),
        # Carvin is in the CAHC but not on the portal: its roads are its own business.
        ({"lon": 2.9580, "lat": 50.4930}, 422, "location", "ne traite pas encore"),
    ],
)
def test_bad_input_gets_a_reason_and_stores_nothing(client, demo, change, status, field, fragment):
    response = post(client, {**GOOD, **change})
    assert response.status_code == status
    body = response.json()
    errors = body["errors"] if status == 422 else body
    assert field in errors
    assert fragment in json.dumps(errors, ensure_ascii=False)
    assert not Report.objects.exists() and not OutboxMail.objects.exists()


def test_the_same_key_replays_the_first_answer_and_creates_one_report(client, demo):
    key = str(uuid.uuid4())
    first = post(client, GOOD, **{"Idempotency-Key": key})
    again = post(client, GOOD, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Report.objects.count() == 1 and OutboxMail.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(client, demo):
    key = str(uuid.uuid4())
    assert post(client, GOOD, **{"Idempotency-Key": key}).status_code == 201
    other = post(client, {**GOOD, "description": "Autre chose."}, **{"Idempotency-Key": key})
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert Report.objects.count() == 1


def test_a_refused_request_does_not_burn_its_key(client, demo):
    key = str(uuid.uuid4())
    assert (
        post(
            client, {**GOOD, "lon": 3.0225, "lat": 50.5135}, **{"Idempotency-Key": key}
        ).status_code
        == 422
    )
    # The refusal stored nothing, so the corrected report can be sent with the same key.
    assert post(client, GOOD, **{"Idempotency-Key": key}).status_code == 201


def test_a_short_key_is_refused(client, demo):
    response = post(client, GOOD, **{"Idempotency-Key": "abc"})
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert not Report.objects.exists()


def test_keys_are_scoped_by_caller(client, demo):
    key = str(uuid.uuid4())
    assert post(client, GOOD, **{"Idempotency-Key": key}).status_code == 201
    other = Client()
    other.force_login(demo.citizen)
    response = post(other, GOOD, **{"Idempotency-Key": key})
    assert response.status_code == 201  # a new report: not the anonymous caller's answer
    assert response.json()["reference"] != Report.objects.order_by("pk").first().reference


def test_public_read_has_no_personal_data_and_the_key_or_author_shows_it(client, demo):
    created = post(client, GOOD).json()
    url = f"{URL}{created['reference']}/"
    public = client.get(url).json()
    text = json.dumps(public, ensure_ascii=False)
    assert public["status"] == "received" and public["service"]["name"] == "Voirie"
    for private in ("habitant@example.org", "06 12 34 56 78", "trace", "territoire"):
        assert private not in text
    key = created["tracking_url"].split("cle=")[1]
    assert client.get(f"{url}?cle={key}").json()["contact_phone"] == "06 12 34 56 78"
    assert client.get(f"{URL}S2000-000000/").status_code == 404


def test_my_reports_lists_a_citizens_own_reports_only(client, demo):
    client.force_login(demo.citizen)
    mine = post(client, GOOD).json()
    assert mine["contact_email"] == demo.citizen.email
    post(Client(), GOOD)  # somebody else's, anonymous
    listed = client.get(f"{URL}mine/").json()
    assert [r["reference"] for r in listed["results"]] == [mine["reference"]]
    assert Client().get(f"{URL}mine/").status_code in (401, 403)


def test_my_reports_costs_the_same_queries_for_one_report_or_many(
    client, demo, make_report, django_assert_max_num_queries
):
    """Photos and timelines are prefetched: no query per report."""
    client.force_login(demo.citizen)
    for _ in range(6):
        make_report("nid-de-poule", author=demo.citizen, photos=[checked_jpeg()])
    with django_assert_max_num_queries(8):
        listed = client.get(f"{URL}mine/").json()
    assert listed["count"] == 6 and all(r["photos"] for r in listed["results"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_report(demo):
    """Two clients send the same key at the same moment: one report, both get its number."""
    key = str(uuid.uuid4())
    answers = []

    def send():
        answers.append(post(Client(), GOOD, **{"Idempotency-Key": key}))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["reference"] for a in answers}) == 1
    assert Report.objects.count() == 1


def test_the_report_api_is_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    create = schema["paths"]["/api/reports/"]["post"]
    assert {p["name"] for p in create["parameters"]} >= {"Idempotency-Key"}
    assert {"201", "400", "422"} <= set(create["responses"])
    assert "/api/reports/{reference}/" in schema["paths"]
    assert "/api/reports/mine/" in schema["paths"]


def test_server_timing_names_the_routing_step_only_when_enabled(client, demo, settings):
    assert "Server-Timing" not in post(client, GOOD)  # off by default
    from django.test import override_settings

    with override_settings(GRC_SERVER_TIMING=True):
        response = Client().post(URL, json.dumps(GOOD), content_type="application/json")
    assert response.status_code == 201
    timing = dict(part.strip().split(";dur=") for part in response["Server-Timing"].split(","))
    assert set(timing) == {"route", "total"}
    assert 0 < float(timing["route"]) < float(timing["total"])


def test_refusals_speak_the_callers_language(client, demo):
    """Service messages are translated: French by default, English on request."""
    from tests.points import PHALEMPIN

    outside = {**GOOD, "lon": PHALEMPIN.x, "lat": PHALEMPIN.y}
    french = post(client, outside).json()["errors"]["location"][0]
    assert french.startswith("Ce point se trouve à Phalempin (59), hors de la Communauté")
    english = client.post(
        URL, json.dumps(outside), content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    ).json()["errors"]["location"][0]
    assert english.startswith("This point is in Phalempin (59), outside the Hénin-Carvin")
    empty = client.post(
        URL,
        json.dumps({**GOOD, "description": " "}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    ).json()
    assert empty["errors"]["description"] == ["Describe the problem in a few words."]
