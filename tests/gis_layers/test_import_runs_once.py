"""A layer import runs once, however often the broker delivers it.

Redis redelivers an unacknowledged task after its visibility timeout (acks_late), so a long import
can be delivered again while it runs. These tests run deliveries concurrently against the real
database (threads, each with its own connection, and the real Celery worker): only the run that
claimed the import touches the layer; a worker that died is taken over; a worker that was taken
over cannot overwrite the layer nor the outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest
import redis
from celery.exceptions import Retry
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from gis_layers import services
from gis_layers.models import Feature, LayerImport
from gis_layers.services import layer_import_file, layer_import_run
from gis_layers.tasks import layer_import_task

from .conftest import geojson_file

TOWN_HALL = (3.01054, 50.480422)


def point(num, lon=TOWN_HALL[0], lat=TOWN_HALL[1]):
    return {
        "type": "Feature",
        "properties": {"num": num},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


@pytest.fixture
def setup(roads_layer, tmp_path, settings):
    layer = roads_layer("corbeilles-une-fois")
    old = geojson_file(tmp_path, [point("KEEP-1")], "old.geojson")
    layer_import_file(layer=layer, path=old, ref_field="num")
    layer.refresh_from_db()
    upload = settings.GRC_LAYER_IMPORT_DIR / "abc" / "source"
    upload.parent.mkdir(parents=True)
    upload.write_text(
        json.dumps({"type": "FeatureCollection", "features": [point("NEW-1"), point("NEW-2")]})
    )
    record = LayerImport.objects.create(
        layer=layer, source_name="corbeilles.geojson", source_path=str(upload), ref_field="num"
    )
    return layer, record


def refs(layer):
    return sorted(Feature.objects.filter(layer=layer).values_list("ref", flat=True))


class PausedRead:
    """Wraps read_source: the first call reads, then waits until released (an import that is
    long to run); the other calls go straight through. Counts the calls."""

    def __init__(self, monkeypatch):
        self.calls = 0
        self.reading = threading.Event()
        self.release = threading.Event()
        self._real = services.read_source
        monkeypatch.setattr(services, "read_source", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        source = self._real(*args, **kwargs)
        if self.calls == 1:
            self.reading.set()
            assert self.release.wait(30), "the test never released the first run"
        return source


def run_in_thread(import_id):
    """A delivery handled by another worker: its own thread, its own database connection."""
    outcome = {}

    def target():
        try:
            outcome["record"] = layer_import_run(import_id=import_id)
        except BaseException as exc:  # reported by the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


@pytest.mark.django_db(transaction=True)
def test_a_delivery_while_the_import_runs_does_nothing(setup, settings, monkeypatch):
    layer, record = setup
    settings.GRC_LAYER_IMPORT_HEARTBEAT_S = 0.1
    settings.GRC_LAYER_IMPORT_STALE_AFTER_S = 1
    paused = PausedRead(monkeypatch)
    first, outcome = run_in_thread(record.pk)
    assert paused.reading.wait(30)
    beat = LayerImport.objects.get(pk=record.pk).heartbeat_at
    time.sleep(1.5)  # longer than STALE: only the heartbeat keeps the import claimed
    assert LayerImport.objects.get(pk=record.pk).heartbeat_at > beat

    second = layer_import_run(import_id=record.pk)  # the broker's redelivery, elsewhere
    assert paused.calls == 1  # it did not read the file again
    assert refs(layer) == ["KEEP-1"]  # nor touch the layer
    layer.refresh_from_db()
    assert layer.data_version == 1
    assert second.status == "running" and second.attempts == 1
    with pytest.raises(Retry):  # the task looks again later instead of dropping the delivery
        layer_import_task(import_id=record.pk)
    assert paused.calls == 1

    paused.release.set()
    first.join(30)
    assert "error" not in outcome, outcome
    done = outcome["record"]
    assert done.status == "succeeded" and done.imported == 2 and done.attempts == 1
    assert refs(layer) == ["NEW-1", "NEW-2"]
    layer.refresh_from_db()
    assert layer.data_version == 2

    again = layer_import_run(import_id=record.pk)  # a late redelivery after the end
    assert again.status == "succeeded" and paused.calls == 1
    layer.refresh_from_db()
    assert layer.data_version == 2


@pytest.mark.django_db(transaction=True)
def test_a_worker_taken_over_changes_nothing(setup, settings, monkeypatch):
    layer, record = setup
    settings.GRC_LAYER_IMPORT_HEARTBEAT_S = 60  # the first worker falls silent
    settings.GRC_LAYER_IMPORT_STALE_AFTER_S = 1
    paused = PausedRead(monkeypatch)
    first, outcome = run_in_thread(record.pk)
    assert paused.reading.wait(30)
    time.sleep(1.2)

    second = layer_import_run(import_id=record.pk)  # takes the silent worker's import over
    assert second.status == "succeeded" and second.attempts == 2 and second.imported == 2
    layer.refresh_from_db()
    assert layer.data_version == 2

    paused.release.set()  # the first worker wakes up with the file it had read
    first.join(30)
    assert "error" not in outcome, outcome
    assert outcome["record"].status == "succeeded" and outcome["record"].attempts == 2
    layer.refresh_from_db()
    assert layer.data_version == 2  # it did not replace the features a second time
    assert refs(layer) == ["NEW-1", "NEW-2"]
    final = LayerImport.objects.get(pk=record.pk)
    assert final.claim == second.claim and final.finished_at == second.finished_at


@pytest.mark.django_db
def test_an_import_whose_worker_died_is_taken_over(setup):
    layer, record = setup
    silent_since = timezone.now() - dt.timedelta(hours=1)
    LayerImport.objects.filter(pk=record.pk).update(
        status="running", claim=uuid.uuid4(), attempts=1, heartbeat_at=silent_since
    )
    done = layer_import_run(import_id=record.pk)
    assert done.status == "succeeded" and done.attempts == 2
    assert refs(layer) == ["NEW-1", "NEW-2"]


@pytest.mark.django_db
def test_an_import_running_elsewhere_is_left_alone(setup):
    layer, record = setup
    LayerImport.objects.filter(pk=record.pk).update(
        status="running", claim=uuid.uuid4(), attempts=1, heartbeat_at=timezone.now()
    )
    assert layer_import_run(import_id=record.pk).status == "running"
    assert refs(layer) == ["KEEP-1"]


@pytest.mark.django_db(transaction=True)
def test_the_real_worker_runs_a_twice_delivered_import_once(setup, celery_worker_process):
    layer, record = setup
    for _ in range(2):  # the task as first sent, and as redelivered
        layer_import_task.apply_async(kwargs={"import_id": record.pk})
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        drained = broker.llen("celery") == 0 and broker.hlen("unacked") == 0
        if drained and LayerImport.objects.get(pk=record.pk).status == "succeeded":
            break
        time.sleep(0.2)
    record.refresh_from_db()
    assert record.status == "succeeded" and record.attempts == 1 and record.imported == 2
    layer.refresh_from_db()
    assert layer.data_version == 2 and refs(layer) == ["NEW-1", "NEW-2"]
