"""Writes on the outbox: queue a mail with the change that causes it, send it, retry it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from core import failopen

from .models import OutboxMail

logger = logging.getLogger(__name__)

# Retry delays after the 1st, 2nd, ... failure; the last one repeats until MAX_ATTEMPTS.
RETRY_DELAYS = [60, 300, 900, 3600, 6 * 3600]
MAX_ATTEMPTS = 12  # about two and a half days of retries, then the mail is marked failed


def mail_enqueue(
    *,
    to: Iterable[str],
    template: str,
    context: dict[str, Any],
    topic: str,
    reference: str = "",
    dedupe_key: str | None = None,
    per_recipient: Mapping[str, dict[str, Any]] | None = None,
) -> list[OutboxMail]:
    """Render a French mail (``notifications/mail/<template>.txt``) and queue it per recipient.

    Call it inside the transaction that makes the change: the rows commit with it, and the send
    is scheduled once committed. A recipient already sent the same ``dedupe_key`` is skipped.
    Two statements whatever the number of recipients: the keys already queued, one bulk insert.
    ``per_recipient``: context added for one address (its own unsubscribe link), keyed by the
    address in lower case; the mail is then rendered once per recipient.
    """
    per_recipient = per_recipient or {}

    def render(address: str) -> tuple[str, str]:
        extra = per_recipient.get(address)
        with translation.override(settings.LANGUAGE_CODE):
            text = render_to_string(
                f"notifications/mail/{template}.txt", {**context, **extra} if extra else context
            ).strip()
        subject, _, body = text.partition("\n")
        return subject, body

    shared = None if per_recipient else render("")
    recipients = sorted({address.strip().lower() for address in to if address and address.strip()})
    keys = {address: f"{dedupe_key}:{address}" for address in recipients} if dedupe_key else {}
    sent_before = (
        set(
            OutboxMail.objects.filter(dedupe_key__in=keys.values()).values_list(
                "dedupe_key", flat=True
            )
        )
        if keys
        else set()
    )
    rows = []
    for address in recipients:
        if keys.get(address) in sent_before:
            continue
        subject, body = shared or render(address)
        rows.append(
            OutboxMail(
                to=address,
                subject=subject.strip()[:255],
                body=body.strip() + "\n",
                topic=topic,
                reference=reference,
                dedupe_key=keys.get(address),
            )
        )
    mails = OutboxMail.objects.bulk_create(rows)
    if mails:
        ids = [mail.pk for mail in mails]
        transaction.on_commit(lambda: _dispatch(ids))
    return mails


def _dispatch(ids: list[int]) -> None:
    """Ask a worker to send now; if the broker is down, the periodic sweep will send later.
    One failed publish is enough: the others of this request (a transfer mails the service,
    its agents and every follower) are not each made to wait for the broker's timeout."""
    from .tasks import mail_send_task

    for mail_id in ids:
        failopen.publish(mail_send_task, mail_id)


def mail_send(mail_id: int, *, connection=None) -> bool:
    """Send one pending mail once (a row lock keeps two workers from sending it twice);
    ``connection``: an open mail connection to reuse (the sweep's)."""
    with transaction.atomic():
        mail = (
            OutboxMail.objects.select_for_update(skip_locked=True)
            .filter(pk=mail_id, state=OutboxMail.State.PENDING)
            .first()
        )
        if mail is None:
            return False
        message = EmailMessage(
            subject=mail.subject,
            body=mail.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[mail.to],
            headers={"Auto-Submitted": "auto-generated"},
            connection=connection,
        )
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # SMTP, DNS, socket: every failure is retried later
            mail.attempts += 1
            mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if mail.attempts >= MAX_ATTEMPTS:
                mail.state = OutboxMail.State.FAILED
            delay = RETRY_DELAYS[min(mail.attempts, len(RETRY_DELAYS)) - 1]
            mail.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
            mail.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
            logger.warning("mail %s not sent (attempt %s): %s", mail.pk, mail.attempts, exc)
            return False
        mail.attempts += 1
        mail.state = OutboxMail.State.SENT
        mail.sent_at = timezone.now()
        mail.last_error = ""
        mail.save(update_fields=["attempts", "state", "sent_at", "last_error"])
        return True


def outbox_flush(*, limit: int = 200) -> int:
    """Send the pending mails that are due (run by the beat every minute). Returns how many."""
    due = list(
        OutboxMail.objects.filter(
            state=OutboxMail.State.PENDING, next_attempt_at__lte=timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    connection = get_connection()  # one SMTP session for the whole sweep
    try:
        connection.open()
    except Exception as exc:  # the server is down: each mail records it and is retried
        logger.warning("mail server unavailable for the sweep: %s", exc)
    try:
        return sum(mail_send(mail_id, connection=connection) for mail_id in due)
    finally:
        connection.close()
