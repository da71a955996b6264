from celery import shared_task

from .health import record_beat


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat_task() -> None:
    """Scheduled by the beat; its execution by a worker proves both are alive (see /healthz)."""
    record_beat()


@shared_task(name="core.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys_task() -> None:
    from .idempotency import purge_expired

    purge_expired()
