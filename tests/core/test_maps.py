"""Reprojection helper: one GDAL transformation per pair of SRIDs and per thread."""

import threading

from django.contrib.gis.geos import Point

from core.maps import _coord_transform, reproject


def test_each_thread_has_its_own_transformation_and_gets_the_right_points():
    expected = reproject(Point(3.01054, 50.480422, srid=4326), 2154)
    seen, results = {}, []

    def work(n):
        seen[n] = _coord_transform(4326, 2154)  # kept alive here: ids stay distinct
        for _ in range(200):
            point = reproject(Point(3.01054, 50.480422, srid=4326), 2154)
            results.append(point.distance(expected))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(t) for t in seen.values()}) == 6  # never shared between threads
    assert len(results) == 1200 and max(results) < 1e-6
    assert _coord_transform(4326, 2154) is _coord_transform(4326, 2154)  # kept within one
