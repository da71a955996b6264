from celery import shared_task

from . import services


@shared_task(name="reports.photo_thumbnails", ignore_result=True)
def photo_thumbnails_task(report_id: int) -> None:
    services.photo_thumbnails_make(report_id)


@shared_task(name="reports.photos_sweep", ignore_result=True)
def photos_sweep_task() -> None:
    """Thumbnails the broker could not ask for, and files of submissions that did not commit."""
    services.photo_thumbnails_make()
    services.photos_sweep_orphans()
