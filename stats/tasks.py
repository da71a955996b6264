from celery import shared_task
from django.conf import settings

from . import open_data


@shared_task(
    name="stats.open_data_build",
    ignore_result=True,
    soft_time_limit=settings.GRC_OPEN_DATA_TIME_LIMIT_S,
    time_limit=settings.GRC_OPEN_DATA_TIME_LIMIT_S + 60,
)
def open_data_build_task(force: bool = False) -> None:
    """Scheduled hourly by the beat (and asked for when the files are missing): rebuilds the
    open-data files only when the public reports changed."""
    open_data.open_data_build(force=force)
