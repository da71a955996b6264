from celery import shared_task
from django.conf import settings

from .models import LayerImport
from .services import layer_import_run, layer_imports_sweep

# A delivery that finds its import running elsewhere looks again every STALE seconds, this many
# times (48 x 5 min: 4 h), so that it takes the import over if that worker dies.
WATCH_RETRIES = 48


@shared_task(name="gis_layers.import_layer", acks_late=True, bind=True)
def layer_import_task(self, *, import_id: int) -> None:
    """Run a layer import recorded by layer_import_start (once: see layer_import_run)."""
    record = layer_import_run(import_id=import_id)
    if record.status == LayerImport.Status.RUNNING:  # another worker holds it
        raise self.retry(
            countdown=settings.GRC_LAYER_IMPORT_STALE_AFTER_S, max_retries=WATCH_RETRIES
        )


@shared_task(name="gis_layers.imports_sweep", ignore_result=True)
def layer_imports_sweep_task() -> None:
    """Scheduled by the beat: imports whose task the broker never got."""
    layer_imports_sweep()
