"""Find a GDAL >= 3.9 for GeoDjango (an explicit GDAL_LIBRARY_PATH, else pyogrio's bundled one)
and harden the GDAL that reads uploaded layers (pyogrio's) before any file is opened.

Runs from settings, so the web process, the Celery worker and every management command get the
same GDAL configuration. What each option does, and why, is below; tests/gis_layers/
test_import_security.py checks the effects.
"""

from __future__ import annotations

import os
from pathlib import Path

# The only drivers the portal's processes need: layer imports (GeoJSON, GeoPackage, zipped
# Shapefile, CSV) and the GeoPackage export. Every other driver is dropped with GDAL_SKIP: no VRT
# (which opens any file or URL named inside it), no GTI, WFS, OAPIF, SQLite/VirtualOGR, MEM...
# Add a driver here only for a format the portal writes or reads on purpose. GeoDjango shares this
# libgdal: without MEM, GDALRaster (raster fields and lookups) cannot work in the portal.
PORTAL_DRIVERS = ("GeoJSON", "GPKG", "ESRI Shapefile", "CSV")

# Set with CPLSetConfigOption (through pyogrio), so they win over the environment and GDAL's
# configuration files.
HARDENING_OPTIONS = {
    # /vsicurl/, /vsicurl_streaming/, /vsis3/, /vsigs/... (every curl-based file system) only
    # open the single file named here, and this one is not even a URL (curl rejects it before
    # any name lookup): no network file system at all. CPL_VSIL_CURL_ALLOWED_EXTENSIONS is not
    # set: GDAL never reads it when this one is set.
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/vsicurl/invalid:// network access is disabled",
    # Plugin drivers are never loaded from disk when drivers are registered.
    "GDAL_DRIVER_PATH": "disable",
    # The SQLite/GPKG SQL function gdal_get_pixel_value() (opens any raster) stays unavailable,
    # whatever the environment says (NO is GDAL's default).
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    # Defaults, pinned against the environment, should VRT ever come back to PORTAL_DRIVERS:
    # no Python code and no raw file access from a VRT.
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
}


def configure_gdal(explicit: str | None) -> str | None:
    """Return the libgdal path for settings.GDAL_LIBRARY_PATH and point PROJ/GDAL at its data.

    Must run before django.contrib.gis.gdal is imported (it is, from settings). Hardens the GDAL
    that pyogrio uses whatever GeoDjango loads: uploads are only ever read through pyogrio.
    """
    from core import gdal

    bundled = gdal.bundled_library()
    if bundled is not None:
        gdal.harden(bundled, options=HARDENING_OPTIONS, drivers=PORTAL_DRIVERS)
    if explicit:
        return explicit
    if bundled is None:
        return None  # the system GDAL; `manage.py check` then warns if it is older than 3.9
    import pyogrio

    package = Path(pyogrio.__file__).resolve().parent
    for var, folder in (
        ("PROJ_DATA", "proj_data"),
        ("PROJ_LIB", "proj_data"),
        ("GDAL_DATA", "gdal_data"),
    ):
        if (package / folder).is_dir():
            os.environ.setdefault(var, str(package / folder))
    return str(bundled)
