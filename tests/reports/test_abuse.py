"""Abuse: rate limits (replays not counted), moderation with an audit trail, banned
addresses, duplicates merged with their followers told."""

import html
import json
import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from accounts.models import User
from notifications.models import OutboxMail
from reports import services
from reports.models import Report
from tests.images import checked_jpeg
from tracking.models import BannedEmail, Event, Follower

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


def test_the_sixth_submission_in_a_minute_from_one_address_is_429(client, demo, monkeypatch):
    """Five stored 30 s into a minute: the sixth is refused, not counted (nothing is stored),
    and Retry-After says when the next one is stored: the sliding window's estimate, 5 x (1 -
    t/60) + 1 <= 5, holds 12 s into the next minute, 42 s later."""
    from core import ratelimit

    now = [6_000_030.0]  # 30 s into a minute
    monkeypatch.setattr(ratelimit, "_clock", lambda: now[0])
    assert [post(client).status_code for _ in range(5)] == [201] * 5
    refused = post(client)
    assert refused.status_code == 429 and refused["Retry-After"] == "42"
    assert "au plus 5 en une minute" in refused.json()["errors"]["non_field_errors"][0]
    assert post(client).status_code == 429  # refusals do not push the wait further
    now[0] += 41
    assert post(client).status_code == 429
    now[0] += 1
    assert post(client).status_code == 201
    assert Report.objects.count() == 6


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


def test_form_mistakes_do_not_use_up_the_submissions(client, demo):
    """Six sends refused for a missing description, then five reports: the limit counts what
    is stored, not the attempts (those have their own, larger limit)."""
    form = dict(
        BODY, action="submit", lon="3.01054", lat="50.480422", contact_email="a@example.org"
    )
    for _ in range(6):
        assert client.post("/signaler/", {**form, "description": ""}).status_code == 200
    assert [client.post("/signaler/", form).status_code for _ in range(5)] == [302] * 5
    refused = client.post("/signaler/", form)
    assert refused.status_code == 429 and "au plus 5 en une minute" in html.unescape(
        refused.content.decode()
    )
    assert Report.objects.count() == 5
    # no acknowledgement for the one rolled back
    assert OutboxMail.objects.filter(topic="acknowledgement").count() == 5


def test_attempts_are_limited_before_any_work(client, demo, settings):
    """Reading photos' positions (a decode each) and failed sends count as attempts: past the
    limit the photo is not even read."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.images import exif_with_gps, jpeg

    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "attempt": [(3, 60)]}

    def read_photo():
        photo = SimpleUploadedFile(
            "p.jpg", jpeg(exif=exif_with_gps(3.01054, 50.480422)), content_type="image/jpeg"
        )
        return client.post(
            "/signaler/", {"category": "signalisation", "action": "photo", "place_photo": photo}
        )

    assert [read_photo().status_code for _ in range(3)] == [200] * 3
    refused = read_photo()
    page = html.unescape(refused.content.decode())
    assert refused.status_code == 429 and "Trop d'envois" in page
    assert 'id="photo-position"' not in page  # not read
    assert post(client).status_code == 429  # the API shares the caller's attempts


def test_a_me_too_counts_once_stored(client, demo, make_report, settings):
    settings.GRC_RATE_LIMITS = {**settings.GRC_RATE_LIMITS, "report": [(2, 60)]}
    report = make_report("signalisation")
    form = {"category": "signalisation", "metoo": report.reference}
    bad = client.post("/signaler/", {**form, "contact_email": "pas-une-adresse"})
    assert bad.status_code == 400  # refused by the service: not counted
    for n in range(2):
        assert (
            client.post("/signaler/", {**form, "contact_email": f"v{n}@example.org"}).status_code
            == 302
        )
    refused = client.post("/signaler/", {**form, "contact_email": "v9@example.org"})
    assert refused.status_code == 429
    assert not Follower.objects.filter(request=report, email="v9@example.org").exists()


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


# --- Moderation, banned addresses, duplicates -------------------------------------------------


def test_a_report_with_a_link_is_held_for_moderation(client, demo, make_report):
    held = make_report(
        "signalisation", description="Achetez sur www.spam.example !", photos=[checked_jpeg()]
    )
    assert held.is_hidden and held.moderation_pending
    assert client.get(f"/signalements/{held.reference}/").status_code == 404
    # The citizen still has the acknowledgement and the tracking link, photos included.
    page = client.get(f"/signalements/{held.reference}/?cle={held.access_key}")
    assert page.status_code == 200
    photos = re.findall(r'src="(/signalements/[^"]+\.jpg[^"]*)"', page.content.decode())
    assert photos and all(f"cle={held.access_key}" in url for url in photos)
    for url in photos:
        shown = client.get(html.unescape(url))
        assert shown.status_code == 200 and shown["Cache-Control"] == "private, no-store"
    assert client.get(html.unescape(photos[0]).split("?")[0]).status_code == 404  # no key
    insult = make_report("signalisation", description="Ce panneau, quel ENCULÉ l'a tordu")
    assert insult.moderation_pending
    clean = make_report("signalisation", description="Panneau tordu rue des Lilas.")
    assert not clean.is_hidden and not clean.moderation_pending


def test_moderating_shows_or_hides_with_an_audit_line(client, demo, make_report):
    report = make_report()  # with a photo
    photo = report.photos.get()
    event = services.report_moderate(
        report, actor=demo.agent, hidden=False, photos_hidden=[photo.pk], reason="Visage visible."
    )
    photo.refresh_from_db()
    assert photo.is_hidden and event.type == Event.Type.MODERATED and not event.is_public
    assert event.data["before"]["photos_hidden"] == [] and event.data["after"]["photos_hidden"] == [
        photo.pk
    ]
    assert event.note == "Visage visible."
    with pytest.raises(ValidationError, match="motif"):
        services.report_moderate(report, actor=demo.agent, hidden=True, reason="")
    with pytest.raises(PermissionDenied):
        services.report_moderate(report, actor=demo.cahc_agent, hidden=True, reason="x")


def test_editing_the_text_keeps_the_previous_one_in_the_audit_trail(demo, make_report):
    report = make_report(description="Trou devant chez M. Dupont, 06 12 34 56 78.")
    event = services.report_edit_description(
        report,
        actor=demo.agent,
        description="Trou devant le numéro 12.",
        reason="Données personnelles retirées.",
    )
    report.refresh_from_db()
    assert report.description == "Trou devant le numéro 12."
    assert "06 12 34 56 78" in event.data["description_before"] and not event.is_public


def test_a_banned_address_or_domain_cannot_file(demo, make_report):
    BannedEmail.objects.create(pattern="troll@example.org", reason="Insultes répétées")
    BannedEmail.objects.create(pattern="@spam.example", reason="Robot")
    for email in ("Troll@Example.org", "x@spam.example"):
        with pytest.raises(ValidationError, match="ne peut plus"):
            make_report("signalisation", contact_email=email)
    assert make_report("signalisation", contact_email="ok@example.org")


def test_merging_duplicates_moves_the_followers_and_tells_each_of_them(demo, make_report):
    kept = make_report("signalisation", contact_email="first@example.org")
    duplicate = make_report("signalisation", contact_email="second@example.org")
    services.report_me_too(duplicate, email="third@example.org")
    event = services.report_merge(duplicate, into=kept, actor=demo.agent)
    duplicate.refresh_from_db()
    assert duplicate.status == "duplicate" and duplicate.duplicate_of == kept
    assert event.is_public and kept.reference in event.message
    assert event.text == event.message  # said again from its data, the same in French
    with translation.override("en"):
        assert event.text == f"Same problem as report {kept.reference}, which is followed instead."
    followers = set(Follower.objects.filter(request=kept).values_list("email", flat=True))
    assert followers == {"first@example.org", "second@example.org", "third@example.org"}
    told = set(OutboxMail.objects.filter(topic="merged").values_list("to", flat=True))
    assert told == {"second@example.org", "third@example.org"}
    with pytest.raises(ValidationError, match="déjà clos"):
        services.report_merge(duplicate, into=kept, actor=demo.agent)


def test_merging_needs_the_right_to_act_on_the_kept_report_too(client, demo, make_report):
    """A Libercourt roads agent cannot merge into a CAHC report (it would gain followers and a
    line of its timeline): its handlers decide, through the service and the admin."""
    duplicate = make_report("signalisation", contact_email="second@example.org")
    cahc_report = make_report("fuite-eau", contact_email="first@example.org")
    assert cahc_report.organisation_id == demo.cahc.pk
    with pytest.raises(ValidationError) as refused:
        services.report_merge(duplicate, into=cahc_report, actor=demo.agent)
    assert "Vous ne traitez pas le signalement" in str(refused.value.message_dict["into"])
    client.force_login(demo.agent)
    url = f"/admin/reports/report/{duplicate.pk}/agir/merge/"
    page = client.post(url, {"into": cahc_report.reference})
    assert page.status_code == 200 and "Vous ne traitez pas" in html.unescape(page.content.decode())
    duplicate.refresh_from_db()
    assert duplicate.is_open and duplicate.duplicate_of is None
    assert not Follower.objects.filter(request=cahc_report, email="second@example.org").exists()


def test_the_admin_offers_moderation_and_merge_to_the_handling_agent(client, demo, make_report):
    kept, duplicate = make_report("signalisation"), make_report("signalisation")
    client.force_login(demo.agent)
    url = f"/admin/reports/report/{duplicate.pk}/agir/merge/"
    assert client.post(url, {"into": "S1999-000000"}).status_code == 200  # unknown: on the form
    assert client.post(url, {"into": kept.reference.lower()}).status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.duplicate_of == kept
    pending = client.get("/admin/reports/report/?moderation_pending__exact=1")
    assert pending.status_code == 200


def test_a_burst_across_a_window_boundary_is_still_counted(rf, monkeypatch, settings, db):
    """Five at 59.9 s and one at 60.1 s: a fixed one-minute window would let the sixth in."""
    from core import ratelimit

    settings.GRC_RATE_LIMITS = {"report": [(5, 60)]}
    request = rf.post("/api/reports/")
    request.user = None
    clock = iter([6_000_059.9] * 5 + [6_000_060.1])
    monkeypatch.setattr(ratelimit, "_clock", lambda: next(clock))
    assert [ratelimit.check(request, "report") for _ in range(5)] == [None] * 5
    refusal = ratelimit.check(request, "report")
    assert refusal is not None and 1 <= refusal.retry_after <= 60


@pytest.mark.parametrize("pattern", ["spam.example", "*@spam.example", "@", "a b@x.fr"])
def test_a_banned_pattern_that_would_never_match_is_refused(db, pattern):
    entry = BannedEmail(pattern=pattern, reason="Robot")
    with pytest.raises(ValidationError) as refused:
        entry.full_clean()
    assert "pattern" in refused.value.message_dict


def test_a_banned_pattern_is_kept_lower_case(db):
    entry = BannedEmail(pattern=" @Spam.Example ", reason="Robot")
    entry.full_clean()
    assert entry.pattern == "@spam.example"


def test_a_mistyped_sign_up_does_not_count(client, db):
    for n in range(3):
        client.post(
            "/compte/inscription/",
            {"email": f"m{n}@example.org", "password1": "Tilleuls-du-62820", "password2": "x"},
        )
    for n in range(5):
        ok = client.post(
            "/compte/inscription/",
            {
                "email": f"w{n}@example.org",
                "password1": "Tilleuls-du-62820",
                "password2": "Tilleuls-du-62820",
            },
        )
        assert ok.status_code == 200 and "Trop d'envois" not in html.unescape(ok.content.decode())
    assert User.objects.filter(email__startswith="w").count() == 5
    assert not User.objects.filter(email__startswith="m").exists()
