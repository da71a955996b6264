"""A layer import runs once, however often the broker delivers it, and ends even when a run
does not: a worker that died, or a run that met a database error, is taken over by the sweep, at
most MAX_ATTEMPTS runs in all.

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
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.utils import timezone

from gis_layers import services
from gis_layers.models import Feature, LayerImport
from gis_layers.services import (
    MAX_ATTEMPTS,
    layer_import_file,
    layer_import_run,
    layer_imports_sweep,
)
from gis_layers.tasks import layer_import_task
from tests.brokers import broker_at, redis_server
from tests.conftest import free_port

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
            with connection.cursor() as cursor:  # the run's own connection (its thread's)
                cursor.execute("SELECT pg_backend_pid()")
                self.backend = cursor.fetchone()[0]
            self.reading.set()
            assert self.release.wait(30), "the test never released the first run"
        return source


@pytest.fixture
def paused_read(monkeypatch):
    paused = PausedRead(monkeypatch)
    yield paused
    paused.release.set()  # a failing test does not leave its first run waiting (and beating)


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
def test_a_delivery_while_the_import_runs_does_nothing(setup, settings, paused_read):
    layer, record = setup
    settings.GRC_LAYER_IMPORT_HEARTBEAT_S = 0.1
    settings.GRC_LAYER_IMPORT_STALE_AFTER_S = 0.5
    paused = paused_read
    first, outcome = run_in_thread(record.pk)
    assert paused.reading.wait(30)
    beat = LayerImport.objects.get(pk=record.pk).heartbeat_at
    time.sleep(0.8)  # longer than STALE: only the heartbeat keeps the import claimed
    assert LayerImport.objects.get(pk=record.pk).heartbeat_at > beat

    second = layer_import_run(import_id=record.pk)  # the broker's redelivery, elsewhere
    assert paused.calls == 1  # it did not read the file again
    assert refs(layer) == ["KEEP-1"]  # nor touch the layer
    layer.refresh_from_db()
    assert layer.data_version == 1
    assert second.status == "running" and second.attempts == 1
    assert layer_import_task(import_id=record.pk) is None  # the task: nothing to do, no error
    assert paused.calls == 1
    assert layer_imports_sweep() == 0  # a running import that beats is nobody's to take

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
def test_a_worker_taken_over_changes_nothing(setup, settings, paused_read):
    layer, record = setup
    settings.GRC_LAYER_IMPORT_HEARTBEAT_S = 60  # the first worker falls silent
    paused = paused_read
    first, outcome = run_in_thread(record.pk)
    assert paused.reading.wait(30)
    silent_since = timezone.now() - dt.timedelta(hours=1)  # its last beat, longer ago than STALE
    LayerImport.objects.filter(pk=record.pk).update(heartbeat_at=silent_since)

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


def terminate(backend: int) -> None:
    """What a PostgreSQL restart or failover does to one connection, from another one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        assert cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_database_connection_dies_is_retried_by_the_sweep(
    setup, settings, paused_read, celery_worker_process
):
    """The database goes away while the worker reads the file: the import is not failed, its
    upload is kept, and once its worker has been silent for STALE the sweep queues it again and
    the real worker imports it."""
    layer, record = setup
    upload = Path(record.source_path)
    paused = paused_read
    outcome = {}

    def deliver():  # the task as a worker runs it
        try:
            outcome["returned"] = layer_import_task(import_id=record.pk)
        except BaseException as exc:  # reported by the test
            outcome["error"] = exc
        finally:
            connection.close()

    first = threading.Thread(target=deliver)
    first.start()
    assert paused.reading.wait(30)
    terminate(paused.backend)
    paused.release.set()
    first.join(30)
    assert outcome == {"returned": None}  # the task ends quietly: no failure, no retry chain
    record.refresh_from_db()
    assert record.status == "running" and record.attempts == 1 and record.message == ""
    assert upload.exists()  # kept for the next attempt
    assert refs(layer) == ["KEEP-1"]

    assert layer_imports_sweep() == 0  # its worker may still be alive: not before STALE
    LayerImport.objects.filter(pk=record.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=settings.GRC_LAYER_IMPORT_STALE_AFTER_S)
    )
    assert layer_imports_sweep() == 1  # to the real worker, through the test broker
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        record.refresh_from_db()
        if record.status != "running":
            break
        time.sleep(0.1)
    assert record.status == "succeeded" and record.attempts == 2, record.message
    assert record.imported == 2 and refs(layer) == ["NEW-1", "NEW-2"]


@pytest.mark.django_db
def test_the_sweep_queues_abandoned_imports_once_per_stale_interval(setup, settings):
    layer, record = setup
    stale = dt.timedelta(seconds=settings.GRC_LAYER_IMPORT_STALE_AFTER_S)
    now = timezone.now()
    beating = LayerImport.objects.create(
        layer=layer, source_name="b.geojson", status="running", heartbeat_at=now
    )
    LayerImport.objects.filter(pk=record.pk).update(
        status="running", claim=uuid.uuid4(), attempts=1, heartbeat_at=now - stale * 2
    )
    done = LayerImport.objects.create(layer=layer, source_name="c.geojson", status="failed")
    port = free_port()
    with redis_server(port) as broker, broker_at(f"redis://127.0.0.1:{port}/0"):
        assert layer_imports_sweep() == 1
        headers = [json.loads(m)["headers"] for m in broker.lrange("celery", 0, -1)]
        assert [(h["task"], h["kwargsrepr"]) for h in headers] == [
            ("gis_layers.import_layer", f"{{'import_id': {record.pk}}}")
        ]
        assert layer_imports_sweep() == 0  # queued: asked again only after another STALE
        LayerImport.objects.filter(pk=record.pk).update(queued_at=now - stale * 2)
        assert layer_imports_sweep() == 1
    assert LayerImport.objects.get(pk=beating.pk).queued_at is None
    assert LayerImport.objects.get(pk=done.pk).queued_at is None


@pytest.mark.django_db
def test_an_import_abandoned_three_times_is_failed_with_its_reason(setup):
    layer, record = setup
    upload = Path(record.source_path)
    silent_since = timezone.now() - dt.timedelta(hours=1)
    LayerImport.objects.filter(pk=record.pk).update(
        status="running", claim=uuid.uuid4(), attempts=MAX_ATTEMPTS, heartbeat_at=silent_since
    )
    done = layer_import_run(import_id=record.pk)  # the fourth delivery
    assert done.status == "failed" and done.attempts == MAX_ATTEMPTS
    assert done.message.startswith("L'import a échoué 3 fois : ")
    assert done.finished_at is not None and not upload.exists()
    assert refs(layer) == ["KEEP-1"]
    assert layer_import_run(import_id=record.pk).status == "failed"  # and stays so


@pytest.mark.django_db
def test_the_last_attempt_still_runs(setup):
    layer, record = setup
    LayerImport.objects.filter(pk=record.pk).update(
        status="running",
        claim=uuid.uuid4(),
        attempts=MAX_ATTEMPTS - 1,
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
    )
    done = layer_import_run(import_id=record.pk)
    assert done.status == "succeeded" and done.attempts == MAX_ATTEMPTS
    assert refs(layer) == ["NEW-1", "NEW-2"]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_reconnects_after_its_connection_dropped(setup, settings):
    _layer, record = setup
    settings.GRC_LAYER_IMPORT_HEARTBEAT_S = 0.05
    claim = uuid.uuid4()
    LayerImport.objects.filter(pk=record.pk).update(
        status="running", claim=claim, heartbeat_at=timezone.now()
    )

    def heartbeat_backends():  # the connection whose last statement was this claim's beat
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE %s AND query LIKE %s AND pid <> pg_backend_pid()",
                ['UPDATE "gis_layers_layerimport" SET "heartbeat_at"%', f"%{claim.hex}%"],
            )
            return [pid for (pid,) in cursor.fetchall()]

    with services._Heartbeat(record.pk, claim):
        deadline = time.monotonic() + 10
        while not (backends := heartbeat_backends()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(backends) == 1, backends
        terminate(backends[0])
        time.sleep(0.2)  # the beats that fail on the dead connection
        dropped_at = timezone.now()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if LayerImport.objects.get(pk=record.pk).heartbeat_at > dropped_at:
                break
            time.sleep(0.05)
    assert LayerImport.objects.get(pk=record.pk).heartbeat_at > dropped_at


@pytest.mark.django_db
def test_a_run_past_its_time_limit_fails_in_french(setup, monkeypatch, settings):
    """Celery raises SoftTimeLimitExceeded in the task wherever it is; here, in the read."""
    layer, record = setup

    def too_long(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "read_source", too_long)
    done = layer_import_run(import_id=record.pk)
    assert done.status == "failed"
    assert done.message.startswith("L'import a dépassé la durée maximale (30 min)")
    assert refs(layer) == ["KEEP-1"]
    assert layer_import_task.soft_time_limit == settings.GRC_LAYER_IMPORT_TIME_LIMIT_S
    assert layer_import_task.time_limit == settings.GRC_LAYER_IMPORT_TIME_LIMIT_S + 60
