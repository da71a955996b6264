from celery import shared_task

from .services import pending_signups_purge


@shared_task(name="accounts.purge_pending_signups", ignore_result=True)
def purge_pending_signups_task() -> None:
    """Scheduled by the beat: forget sign-ups whose verification link has expired, and the
    accounts only they had made."""
    pending_signups_purge()
