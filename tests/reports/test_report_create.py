"""Creating a report: stored, routed with its trace, acknowledged through the outbox."""

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError

from notifications.models import OutboxMail
from reports.models import Report
from tests.points import PHALEMPIN
from tracking.models import Event, Follower

pytestmark = pytest.mark.django_db


def test_a_report_is_stored_routed_and_acknowledged(
    make_report, demo, categories, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        report = make_report("nid-de-poule", contact_email="Habitant@Example.org")
    assert re.fullmatch(r"S\d{4}-\d{6}", report.reference)
    assert report.service == demo.voirie and report.organisation == demo.libercourt
    assert report.commune.insee == "62907"
    assert report.status == "received"
    assert report.due_at - report.created_at == dt.timedelta(
        days=categories["nid-de-poule"].sla_days
    )
    events = list(report.events.order_by("at", "pk"))
    assert [e.type for e in events] == [Event.Type.CREATED, Event.Type.ROUTED]
    routed = events[1]
    assert routed.service_after == demo.voirie
    steps = [s["step"] for s in routed.data["decision"]["trace"]]
    assert steps[:2] == ["territoire", "compétence"]
    assert "Voirie" in routed.message
    # The address given follows the report, and its acknowledgement waits in the outbox.
    assert Follower.objects.filter(request=report, email="habitant@example.org").exists()
    mail = OutboxMail.objects.get(reference=report.reference)
    assert mail.to == "habitant@example.org" and mail.state == "pending"
    assert report.reference in mail.subject
    assert f"/signalements/{report.reference}/?cle={report.access_key}" in mail.body
    assert "Voirie" in mail.body
    # Once committed: the thumbnails of its photo and the mail's send are asked for.
    assert len(callbacks) == 2
    assert report.photos.count() == 1


def test_outside_the_cahc_is_refused_naming_the_commune_and_nothing_is_stored(make_report):
    with pytest.raises(ValidationError) as exc:
        make_report("nid-de-poule", location=PHALEMPIN)
    assert "Phalempin" in str(exc.value.message_dict["location"])
    assert not Report.objects.exists() and not OutboxMail.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("description", "fragment"),
    [("   ", "Décrivez"), ("x" * 50_000, "dépasse")],
)
def test_an_empty_or_huge_description_is_refused(make_report, description, fragment):
    with pytest.raises(ValidationError) as exc:
        make_report(description=description)
    assert fragment in exc.value.message_dict["description"][0]
    assert not Report.objects.exists()


def test_a_category_without_anonymous_reports_wants_an_address(make_report, categories):
    assert not categories["lampadaire-degrade"].allow_anonymous
    with pytest.raises(ValidationError) as exc:
        make_report("lampadaire-degrade", contact_email="")
    assert "adresse électronique" in exc.value.message_dict["contact_email"][0]
    # Where anonymous reports are allowed, nobody is mailed and nothing is followed.
    report = make_report("nid-de-poule", contact_email="")
    assert not OutboxMail.objects.exists() and not report.followers.exists()


def test_a_signed_in_citizen_is_the_author_and_is_acknowledged(make_report, demo):
    report = make_report(author=demo.citizen, contact_email="ignored@example.org")
    assert report.author == demo.citizen and report.contact_email == ""
    assert OutboxMail.objects.get(reference=report.reference).to == demo.citizen.email


def test_two_reports_get_two_numbers(make_report):
    first, second = make_report(), make_report()
    assert first.reference != second.reference
    assert int(second.reference[-6:]) == int(first.reference[-6:]) + 1


def test_creation_is_a_dozen_statements_with_one_routing_query(
    make_report, django_assert_max_num_queries
):
    """Savepoint and its release, the banned-address check, routing, number, two inserts for
    the report, two events, the photo, follower, the service for the mail, the outbox's dedupe
    check and insert."""
    make_report()  # warm caches (content types)
    with django_assert_max_num_queries(14) as queries:
        make_report()
    assert sum("routing_decide" in q["sql"] for q in queries.captured_queries) == 1
