"""Find a GDAL >= 3.9 for GeoDjango: an explicit GDAL_LIBRARY_PATH, else pyogrio's bundled one."""

from __future__ import annotations

import os
from pathlib import Path


def configure_gdal(explicit: str | None) -> str | None:
    """Return the libgdal path for settings.GDAL_LIBRARY_PATH and point PROJ/GDAL at its data.

    Must run before django.contrib.gis.gdal is imported (it is, from settings).
    """
    if explicit:
        return explicit
    try:
        import pyogrio
    except ImportError:
        return None  # the system GDAL; `manage.py check` then warns if it is older than 3.9
    package = Path(pyogrio.__file__).resolve().parent
    libs = sorted((package.parent / "pyogrio.libs").glob("libgdal-*.so*"))
    if not libs:
        return None
    for var, folder in (
        ("PROJ_DATA", "proj_data"),
        ("PROJ_LIB", "proj_data"),
        ("GDAL_DATA", "gdal_data"),
    ):
        if (package / folder).is_dir():
            os.environ.setdefault(var, str(package / folder))
    return str(libs[0])
