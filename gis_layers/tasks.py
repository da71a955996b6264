from celery import shared_task

from .services import layer_import_run


@shared_task(name="gis_layers.import_layer", acks_late=True)
def layer_import_task(*, import_id: int) -> None:
    """Run a layer import recorded by layer_import_start."""
    layer_import_run(import_id=import_id)
