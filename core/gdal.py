"""The GDAL that reads uploaded layers, hardened against files that point elsewhere.

``harden`` runs once from ``config.gdal`` while settings load, so in the web process, the Celery
worker and every management command, before any upload is opened:

- configuration options are set process-wide (``pyogrio.set_gdal_config_options``, i.e.
  ``CPLSetConfigOption``, which wins over the environment and GDAL's configuration files);
- every driver outside the portal's list is dropped (``GDAL_SKIP``, then drivers registered
  again): a reader then opens an upload behind its format's driver prefix (``GeoJSON:``,
  ``GPKG:``, ``CSV:``), and no other driver exists to open what the file names;
- every ``CPLHTTPFetch`` (a CRS link in a GeoJSON, any driver's HTTP request) gets a refusal
  without any connection (a fetch callback; no configuration option turns it off).

pyogrio exposes neither the re-registration nor the fetch callback, so these two go through
ctypes, on the libgdal that pyogrio loaded (the same handle). ``watch_network`` tells a reader
which URLs GDAL tried to fetch (and was refused) while it read an upload.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class GdalNotHardened(RuntimeError):
    """``harden`` has not run in this process: uploads must not be opened."""


class _HTTPResult(ctypes.Structure):
    """CPLHTTPResult from cpl_http.h (unchanged since GDAL 2)."""

    _fields_ = (
        ("nStatus", ctypes.c_int),
        ("pszContentType", ctypes.c_void_p),
        ("pszErrBuf", ctypes.c_void_p),
        ("nDataLen", ctypes.c_int),
        ("nDataAlloc", ctypes.c_int),
        ("pabyData", ctypes.c_void_p),
        ("papszHeaders", ctypes.c_void_p),
        ("nMimePartCount", ctypes.c_int),
        ("pasMimePart", ctypes.c_void_p),
    )


# CPLHTTPResult *(*)(const char *url, CSLConstList options, GDALProgressFunc, void *progress_arg,
#                    CPLHTTPFetchWriteFunc, void *write_arg, void *user_data)
_FETCH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
)
_CURLE_UNSUPPORTED_PROTOCOL = 1


@dataclass
class _State:
    lib: ctypes.CDLL | None = None
    drivers: frozenset[str] = frozenset()
    refused_count: int = 0
    refused_recent: deque = field(default_factory=lambda: deque(maxlen=50))
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()


def _prototypes(lib: ctypes.CDLL) -> ctypes.CDLL:
    signatures = {
        "CPLCalloc": (ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]),
        "CPLStrdup": (ctypes.c_void_p, [ctypes.c_char_p]),
        "CPLHTTPSetFetchCallback": (None, [_FETCH_CALLBACK, ctypes.c_void_p]),
        "GDALAllRegister": (None, []),
        "GDALGetDriverCount": (ctypes.c_int, []),
        "GDALGetDriver": (ctypes.c_void_p, [ctypes.c_int]),
        "GDALGetDriverShortName": (ctypes.c_char_p, [ctypes.c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


@_FETCH_CALLBACK
def _refuse_fetch(url, _options, _progress, _progress_arg, _write, _write_arg, _user_data):
    """Answer a CPLHTTPFetch request with a curl-like error, no connection made.

    Must return a non-NULL result: NULL would make GDAL fall back to its curl implementation.
    The memory comes from CPLCalloc/CPLStrdup, which CPLHTTPDestroyResult frees.
    """
    lib = _state.lib
    result = lib.CPLCalloc(1, ctypes.sizeof(_HTTPResult))
    try:
        answer = _HTTPResult.from_address(result)
        answer.nStatus = _CURLE_UNSUPPORTED_PROTOCOL
        answer.pszErrBuf = lib.CPLStrdup(b"network access refused by the portal")
        text = (url or b"").decode("utf-8", "replace")[:500]
        with _state.lock:
            _state.refused_count += 1
            _state.refused_recent.append(text)
        logger.warning("GDAL tried to fetch %s: refused", text)
    finally:
        return result  # noqa: B012 - never NULL, whatever happened above


def bundled_library() -> Path | None:
    """The libgdal inside pyogrio's wheel, which pyogrio (hence every layer import) uses."""
    try:
        import pyogrio
    except ImportError:
        return None
    libs = sorted(
        (Path(pyogrio.__file__).resolve().parent.parent / "pyogrio.libs").glob("libgdal-*.so*")
    )
    return libs[0] if libs else None


def _registered_drivers(lib: ctypes.CDLL) -> list[str]:
    """Every registered driver, raster ones included (pyogrio lists only vector drivers)."""
    return [
        lib.GDALGetDriverShortName(lib.GDALGetDriver(i)).decode()
        for i in range(lib.GDALGetDriverCount())
    ]


def harden(library: Path, *, options: Mapping[str, str], drivers: Iterable[str]) -> None:
    """Apply the options process-wide, keep only ``drivers``, refuse every CPLHTTPFetch."""
    import pyogrio

    lib = _prototypes(ctypes.CDLL(str(library)))
    _state.lib = lib
    pyogrio.set_gdal_config_options(dict(options))
    keep = frozenset(drivers)
    lib.GDALAllRegister()  # no-op if pyogrio registered them already; makes the list complete
    registered = _registered_drivers(lib)
    missing = keep - set(registered)
    if missing:
        raise RuntimeError(f"GDAL lacks the drivers the portal needs: {sorted(missing)}")
    skip = [name for name in registered if name not in keep]
    if skip:
        # GDALAllRegister applies GDAL_SKIP (also if anything registers drivers again later).
        pyogrio.set_gdal_config_options({"GDAL_SKIP": ",".join(skip)})
        lib.GDALAllRegister()
    lib.CPLHTTPSetFetchCallback(_refuse_fetch, None)
    _state.drivers = keep


def is_hardened() -> bool:
    """Whether ``harden`` ran in this process and pyogrio can open nothing but its drivers."""
    import pyogrio

    return _state.lib is not None and set(pyogrio.list_drivers()) <= _state.drivers


def require_hardened() -> None:
    """Raise GdalNotHardened unless ``is_hardened()``: uploads are never opened otherwise."""
    if not is_hardened():
        raise GdalNotHardened(
            "GDAL was not hardened in this process (config.gdal), or drivers outside the "
            "portal's list are registered: layer files are not opened."
        )


class NetworkWatch:
    """The URLs GDAL asked for (and was refused) since the watch began.

    The count is process-wide: a layer import runs alone in its worker process, so what was
    refused during the watch is what this import asked for.
    """

    def __init__(self) -> None:
        with _state.lock:
            self._before = _state.refused_count

    def refused(self) -> list[str]:
        with _state.lock:
            count = _state.refused_count - self._before
            recent = list(_state.refused_recent)
        return recent[-min(count, len(recent)) :] if count else []


def watch_network() -> NetworkWatch:
    return NetworkWatch()
