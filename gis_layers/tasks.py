import logging

from celery import shared_task
from django.conf import settings

from .services import TRANSIENT_ERRORS, layer_import_run, layer_imports_sweep

logger = logging.getLogger(__name__)


@shared_task(
    name="gis_layers.import_layer",
    acks_late=True,
    soft_time_limit=settings.GRC_LAYER_IMPORT_TIME_LIMIT_S,
    time_limit=settings.GRC_LAYER_IMPORT_TIME_LIMIT_S + 60,
)
def layer_import_task(*, import_id: int) -> None:
    """Run a layer import recorded by layer_import_start (once: see layer_import_run).

    A delivery that finds the import done or running elsewhere does nothing. Past the soft
    limit the import fails with a French message; a worker killed at the hard limit (or by the
    system) leaves it to layer_imports_sweep, like a database error does.
    """
    try:
        layer_import_run(import_id=import_id)
    except TRANSIENT_ERRORS:
        logger.warning(
            "layer import %s: database error, left to the sweep (after %s s)",
            import_id,
            settings.GRC_LAYER_IMPORT_STALE_AFTER_S,
            exc_info=True,
        )


@shared_task(name="gis_layers.imports_sweep", ignore_result=True)
def layer_imports_sweep_task() -> None:
    """Scheduled by the beat: imports whose task the broker never got, and abandoned ones."""
    layer_imports_sweep()
