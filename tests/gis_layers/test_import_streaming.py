"""Imports read the file in batches: memory does not grow with the file, batches are invisible in
the outcome (numbers, errors, order), progress is reported per batch, a late read error keeps
the previous version."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import pytest
import shapely
from django.core.management import call_command

from gis_layers import readers
from gis_layers.models import Feature
from gis_layers.readers import ReadError, read_source
from gis_layers.services import layer_import_file

from .conftest import geojson_file

ROOT = Path(__file__).resolve().parents[2]
TOWN_HALL_2154 = (700_800.0, 7_042_600.0)


@pytest.fixture
def bins(roads_layer):
    return roads_layer("corbeilles-flux")


def write_points(path, xy, *, srid=2154, driver="GPKG"):
    """Points with the properties num (CORB-n from 1) and volume, written through GDAL."""
    count = len(xy)
    geometry = shapely.to_wkb(shapely.points(np.asarray(xy, dtype=float)))
    fields = [
        np.array([f"CORB-{i}" for i in range(1, count + 1)], dtype=object),
        np.arange(count, dtype=np.int32),
    ]
    pyogrio.raw.write(
        path,
        geometry,
        fields,
        fields=["num", "volume"],
        geometry_type="Point",
        crs=f"EPSG:{srid}",
        driver=driver,
    )
    return path


def grid(count):
    """``count`` distinct points around Libercourt's town hall, in Lambert-93."""
    x0, y0 = TOWN_HALL_2154
    return [(x0 + (i % 1000) * 2.0, y0 + (i // 1000) * 2.0) for i in range(count)]


@pytest.mark.django_db
def test_batch_boundaries_are_invisible(tmp_path, bins, monkeypatch):
    """A file of BATCH_SIZE + 1 features, rejected rows on both sides of the boundary: each is
    reported under its number in the file, the others are stored in the file's order."""
    monkeypatch.setattr(readers, "BATCH_SIZE", 4)
    xy = grid(5)
    xy[1] = (3.01, 50.48)  # degrees in a Lambert-93 file: off France
    xy[3] = (-5_000_000.0, 0.0)  # last of the first batch
    xy[4] = (10.0, 10.0)  # the one of the second batch
    path = write_points(tmp_path / "corbeilles.gpkg", xy)
    progress = []

    result, fmt, srid = layer_import_file(
        layer=bins, path=path, ref_field="num", progress=lambda *a: progress.append(a)
    )

    assert (fmt, srid, result.total, result.imported, result.rejected) == ("gpkg", 2154, 5, 2, 3)
    assert [(e["feature"], e["ref"]) for e in result.errors] == [
        (2, "CORB-2"),
        (4, "CORB-4"),
        (5, "CORB-5"),
    ]
    assert all("hors de France" in e["reason"] for e in result.errors)
    stored = Feature.objects.filter(layer=bins).order_by("id")
    assert [(f.ref, f.properties["volume"]) for f in stored] == [("CORB-1", 0), ("CORB-3", 2)]
    # one report per batch read, against the total the GeoPackage tells before being read
    assert progress[:2] == [("lecture", 4, 5), ("lecture", 5, 5)]
    assert [stage for stage, *_ in progress[2:]] == ["contrôle", "remplacement", "terminé"]


@pytest.mark.django_db
def test_a_geojson_is_read_per_batch_without_a_total(tmp_path, bins, monkeypatch, capsys):
    """GDAL cannot count a GeoJSON's features without reading it all: the progress has no
    total (0), and the command shows what was read so far."""
    monkeypatch.setattr(readers, "BATCH_SIZE", 3)
    features = [
        {
            "type": "Feature",
            "properties": {"num": f"EP-{i}", "puissance": 40.5 if i % 2 else None},
            "geometry": {"type": "Point", "coordinates": [3.01 + i / 10_000, 50.48]},
        }
        for i in range(1, 8)
    ]
    path = geojson_file(tmp_path, features)
    progress = []
    result, _fmt, _srid = layer_import_file(
        layer=bins, path=path, ref_field="num", progress=lambda *a: progress.append(a)
    )
    assert result.imported == 7
    assert [p for p in progress if p[0] == "lecture"] == [
        ("lecture", 3, 0),
        ("lecture", 6, 0),
        ("lecture", 7, 0),
    ]
    assert Feature.objects.get(layer=bins, ref="EP-2").properties["puissance"] is None  # NaN
    assert Feature.objects.get(layer=bins, ref="EP-3").properties["puissance"] == 40.5

    call_command("import_layer", bins.slug, str(path), "--ref-field", "num")
    out = capsys.readouterr().out
    assert "  lecture: 3\n  lecture: 6\n  lecture: 7\n" in out
    assert "7 imported, 0 rejected of 7" in out


class _FailingStream:
    """An Arrow stream whose second batch cannot be read (a file damaged past its start)."""

    def __init__(self, reader):
        self._reader = reader
        self._reads = 0

    def read_next_batch(self):
        self._reads += 1
        if self._reads == 2:
            raise OSError("GDAL: damaged page 1234 in 'secret/path.gpkg'")
        return self._reader.read_next_batch()


@pytest.mark.django_db
def test_a_read_error_after_the_first_batch_keeps_the_previous_version(tmp_path, bins, monkeypatch):
    layer_import_file(layer=bins, path=write_points(tmp_path / "old.gpkg", grid(2)))
    monkeypatch.setattr(readers, "BATCH_SIZE", 2)
    real_open_arrow = readers.raw.open_arrow

    class FailingOpen:
        def __init__(self, *args, **kwargs):
            self._context = real_open_arrow(*args, **kwargs)

        def __enter__(self):
            meta, reader = self._context.__enter__()
            return meta, _FailingStream(reader)

        def __exit__(self, *exc_info):
            return self._context.__exit__(*exc_info)

    monkeypatch.setattr(readers.raw, "open_arrow", FailingOpen)
    with pytest.raises(ReadError, match="n'a pas pu être lu comme GeoPackage") as raised:
        layer_import_file(layer=bins, path=write_points(tmp_path / "new.gpkg", grid(5)))
    assert "secret" not in str(raised.value)
    assert sorted(Feature.objects.filter(layer=bins).values_list("ref", flat=True)) == ["1", "2"]
    bins.refresh_from_db()
    assert bins.feature_count == 2 and bins.data_version == 1


def test_closing_an_unread_source_removes_the_extracted_shapefile(tmp_path, settings):
    """An import that stops before reading (taken over, bad ref field) leaves no extracted
    Shapefile parts behind."""
    import zipfile

    settings.GRC_LAYER_IMPORT_DIR = tmp_path / "imports"
    folder = tmp_path / "shp"
    folder.mkdir()
    write_points(folder / "corbeilles.shp", grid(3), driver="ESRI Shapefile")
    archive = tmp_path / "corbeilles.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.iterdir():
            zf.write(part, part.name)
    source = read_source(archive, name="corbeilles.zip")
    assert (source.format, source.count, source.fields) == ("shapefile", 3, ["num", "volume"])
    assert any((tmp_path / "imports").iterdir())  # the parts GDAL reads
    source.close()
    assert not any((tmp_path / "imports").iterdir())


# The child's own peak (VmHWM, kB): its ru_maxrss would count the test process's memory, which
# the child shares from the fork until the exec.
_READ_ALL = """
import re, sys
import django
django.setup()
from gis_layers import readers
readers.BATCH_SIZE = int(sys.argv[2])
source = readers.read_source(sys.argv[1])
read = sum(len(batch) for batch in source.batches)
with open("/proc/self/status") as status:
    print(read, re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
"""


def _peak_kib(path: Path, batch_size: int) -> tuple[int, int]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-c", _READ_ALL, str(path), str(batch_size)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    read, peak = map(int, done.stdout.split())
    return read, peak


def test_reading_memory_does_not_grow_with_the_file(tmp_path):
    """The peak memory of a process reading 40,000 points and of one reading 160,000: the same,
    give or take a batch. Read whole (one batch), the larger file takes about 40 MB more."""
    small, large = 40_000, 160_000
    rng = np.random.Generator(np.random.PCG64(62907))
    for count in (small, large):
        x = rng.uniform(690_000, 710_000, count)
        y = rng.uniform(7_035_000, 7_050_000, count)
        table = pa.table(
            {
                "num": pa.array([f"CORB-{i:07d}" for i in range(count)]),
                "volume": pa.array(rng.uniform(10, 500, count)),
                "geom": pa.array(shapely.to_wkb(shapely.points(x, y)), pa.binary()),
            }
        )
        pyogrio.raw.write_arrow(
            table,
            tmp_path / f"{count}.gpkg",
            driver="GPKG",
            geometry_name="geom",
            geometry_type="Point",
            crs="EPSG:2154",
        )
    read_small, peak_small = _peak_kib(tmp_path / f"{small}.gpkg", 5_000)
    read_large, peak_large = _peak_kib(tmp_path / f"{large}.gpkg", 5_000)
    assert (read_small, read_large) == (small, large)
    assert peak_large - peak_small < 15 * 1024, (peak_small, peak_large)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("progress", "shown", "bar"),
    [
        ({"stage": "lecture", "done": 20000, "total": 0}, "20000 objets lus", None),
        ({"stage": "lecture", "done": 20000, "total": 50000}, "20000 / 50000", "0"),
    ],
)
def test_the_import_page_shows_what_was_read_when_the_total_is_unknown(
    client, demo, bins, progress, shown, bar
):
    """A GeoJSON or a CSV does not tell its total: the page says what was read, and its bar
    is indeterminate rather than full (the JSON the script polls carries total 0)."""
    from django.core.cache import cache

    from gis_layers.models import LayerImport
    from gis_layers.services import progress_key

    record = LayerImport.objects.create(layer=bins, source_name="a.geojson", status="running")
    cache.set(progress_key(record.pk), progress)
    client.force_login(demo.manager)
    page = client.get(f"/intranet/imports/{record.pk}/").content.decode()
    assert f"lecture : {shown}" in page
    (tag,) = [t for t in page.split("<progress")[1:2]]
    assert ('value="0"' in tag) == (bar is not None)
    polled = client.get(f"/intranet/imports/{record.pk}/", {"format": "json"}).json()
    assert polled["progress"] == progress
