"""The outbox against a real SMTP server on loopback: sent, retried, never lost."""

import datetime as dt

import pytest
from django.utils import timezone

from config.celery import app
from notifications import services
from notifications.models import OutboxMail
from reports.models import Report
from tests.brokers import broker_at

pytestmark = pytest.mark.django_db


def test_the_acknowledgement_reaches_a_real_smtp_server_in_french(make_report, smtp_server):
    report = make_report()
    mail = OutboxMail.objects.get(reference=report.reference)
    assert services.mail_send(mail.pk) is True
    (message,) = smtp_server.messages
    assert message["X-Envelope-To"] == "habitant@example.org"
    assert (
        str(message["Subject"]).strip()
        == f"Accusé de réception de votre signalement {report.reference}"
    )
    body = message.get_content()
    assert "Numéro de suivi" in body and "Voirie" in body
    mail.refresh_from_db()
    assert mail.state == "sent" and mail.attempts == 1
    # Sending again is a no-op: a mail is sent once.
    assert services.mail_send(mail.pk) is False
    assert len(smtp_server.messages) == 1


def test_a_refusing_mail_server_means_a_retry_later_not_a_loss(make_report, smtp_server):
    report = make_report()
    mail = OutboxMail.objects.get(reference=report.reference)
    smtp_server.refuse = True
    assert services.mail_send(mail.pk) is False
    mail.refresh_from_db()
    assert mail.state == "pending" and mail.attempts == 1
    assert "451" in mail.last_error
    assert mail.next_attempt_at > timezone.now()
    # Not due yet: the sweep leaves it; once due and the server back, the sweep sends it.
    assert services.outbox_flush() == 0
    smtp_server.refuse = False
    OutboxMail.objects.filter(pk=mail.pk).update(next_attempt_at=timezone.now())
    assert services.outbox_flush() == 1
    assert len(smtp_server.messages) == 1


def test_a_mail_is_given_up_after_many_attempts(make_report, smtp_server):
    report = make_report()
    mail = OutboxMail.objects.get(reference=report.reference)
    smtp_server.refuse = True
    for _ in range(services.MAX_ATTEMPTS):
        OutboxMail.objects.filter(pk=mail.pk).update(next_attempt_at=timezone.now())
        services.mail_send(mail.pk)
    mail.refresh_from_db()
    assert mail.state == "failed" and mail.attempts == services.MAX_ATTEMPTS


def test_a_broker_outage_loses_nothing(
    make_report, smtp_server, stopped_redis_url, django_capture_on_commit_callbacks
):
    """Redis down when the report is committed: the report is stored, the send cannot be
    published, the mail waits in the outbox; the sweep sends it once things are back."""
    with broker_at(stopped_redis_url):
        started = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            report = make_report()
        assert timezone.now() - started < dt.timedelta(seconds=10)  # publishing gave up fast
    assert Report.objects.filter(pk=report.pk).exists()
    mail = OutboxMail.objects.get(reference=report.reference)
    assert mail.state == "pending" and smtp_server.messages == []
    assert services.outbox_flush() == 1
    assert smtp_server.messages[0]["Subject"].endswith(report.reference)


def test_after_one_failed_publish_the_next_mails_do_not_wait_for_the_broker(
    make_report, stopped_redis_url, django_capture_on_commit_callbacks
):
    """A transfer mails the service, its agents and every follower: with the broker down, only
    the first publish waits for its timeout; the rest go to the sweep at once."""
    import time

    with broker_at(stopped_redis_url):
        with django_capture_on_commit_callbacks(execute=True):
            make_report()  # the acknowledgement: one failed publish
        ids = list(OutboxMail.objects.values_list("pk", flat=True)) * 20
        started = time.monotonic()
        services._dispatch(ids)
        assert time.monotonic() - started < 0.05  # not one broker round trip
    assert OutboxMail.objects.filter(state="pending").count() == 1  # kept for the sweep


def test_publishing_works_again_after_the_outage(make_report, stopped_redis_url):
    """The outage test must leave the app able to publish (other tests rely on it)."""
    with broker_at(stopped_redis_url):
        pass
    with app.producer_or_acquire() as producer:
        assert producer.connection.as_uri().startswith("redis://")
    from notifications.tasks import outbox_flush_task

    outbox_flush_task.delay()  # raises if the pool was left closed


def test_one_mail_per_recipient_and_never_twice_for_one_event(db, django_assert_num_queries):
    context = {"request": None, "event": None, "status": "Résolu", "url": "http://x/"}
    recipients = ["a@example.org", "B@example.org ", "b@example.org", "c@example.org", ""]
    with django_assert_num_queries(2):  # the keys already there, one insert for all
        first = services.mail_enqueue(
            to=recipients, template="request_status", context=context, topic="t", dedupe_key="e1"
        )
    assert sorted(m.to for m in first) == ["a@example.org", "b@example.org", "c@example.org"]
    again = services.mail_enqueue(
        to=[*recipients, "d@example.org"],
        template="request_status",
        context=context,
        topic="t",
        dedupe_key="e1",
    )
    assert [m.to for m in again] == ["d@example.org"]
    assert OutboxMail.objects.count() == 4
