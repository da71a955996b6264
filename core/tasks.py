from celery import shared_task

from .health import record_beat


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat_task() -> None:
    """Scheduled by the beat; its execution by a worker proves both are alive (see /healthz)."""
    record_beat()
