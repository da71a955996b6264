from celery import shared_task

from . import services


@shared_task(name="notifications.send_mail", ignore_result=True)
def mail_send_task(mail_id: int) -> None:
    services.mail_send(mail_id)


@shared_task(name="notifications.flush_outbox", ignore_result=True)
def outbox_flush_task() -> None:
    services.outbox_flush()
