"""The GDAL that reads uploaded layers, hardened against files that point elsewhere.

pyogrio's wheel bundles its own libgdal; this module reaches that same library through ctypes for
what pyogrio does not expose (pyogrio 0.13 always passes no driver list to ``GDALOpenEx``):

- ``harden`` (called once from ``config.gdal`` while settings load, so in the web process, the
  Celery worker and every management command): sets configuration options process-wide, drops
  every driver outside the portal's list (``GDAL_SKIP``) and answers every ``CPLHTTPFetch``
  request with a refusal, without any connection (a fetch callback);
- ``open_vector``: opens a file with an explicit list of allowed drivers (``papszAllowedDrivers``)
  and says which driver opened it;
- ``watch_network``: the URLs GDAL tried to fetch (and was refused) since a point in time.
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

GDAL_OF_READONLY = 0x00
GDAL_OF_VECTOR = 0x04
GDAL_OF_VERBOSE_ERROR = 0x40


class GdalOpenError(Exception):
    """GDAL could not open the file with the allowed drivers; the message is GDAL's."""


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
    c_char_pp = ctypes.POINTER(ctypes.c_char_p)
    signatures = {
        "CPLSetConfigOption": (None, [ctypes.c_char_p, ctypes.c_char_p]),
        "CPLGetConfigOption": (ctypes.c_char_p, [ctypes.c_char_p, ctypes.c_char_p]),
        "CPLErrorReset": (None, []),
        "CPLGetLastErrorMsg": (ctypes.c_char_p, []),
        "CPLCalloc": (ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]),
        "CPLStrdup": (ctypes.c_void_p, [ctypes.c_char_p]),
        "CPLHTTPSetFetchCallback": (None, [_FETCH_CALLBACK, ctypes.c_void_p]),
        "GDALAllRegister": (None, []),
        "GDALGetDriverCount": (ctypes.c_int, []),
        "GDALGetDriver": (ctypes.c_void_p, [ctypes.c_int]),
        "GDALGetDriverShortName": (ctypes.c_char_p, [ctypes.c_void_p]),
        "GDALOpenEx": (
            ctypes.c_void_p,
            [ctypes.c_char_p, ctypes.c_uint, c_char_pp, c_char_pp, c_char_pp],
        ),
        "GDALGetDatasetDriver": (ctypes.c_void_p, [ctypes.c_void_p]),
        "GDALDatasetGetLayerCount": (ctypes.c_int, [ctypes.c_void_p]),
        "GDALClose": (ctypes.c_int, [ctypes.c_void_p]),
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


def registered_drivers() -> list[str]:
    lib = _require()
    return [
        lib.GDALGetDriverShortName(lib.GDALGetDriver(i)).decode()
        for i in range(lib.GDALGetDriverCount())
    ]


def config_option(name: str) -> str | None:
    value = _require().CPLGetConfigOption(name.encode(), None)
    return value.decode() if value is not None else None


def harden(library: Path, *, options: Mapping[str, str], drivers: Iterable[str]) -> None:
    """Apply the options process-wide, keep only ``drivers``, refuse every CPLHTTPFetch.

    Options set with CPLSetConfigOption take precedence over the environment and GDAL's
    configuration files, so a stray environment variable cannot undo them. GDAL_SKIP is applied
    by GDALAllRegister, which also runs again if anything re-registers drivers later.
    """
    lib = _prototypes(ctypes.CDLL(str(library)))
    _state.lib = lib
    for name, value in options.items():
        lib.CPLSetConfigOption(name.encode(), value.encode())
    keep = frozenset(drivers)
    lib.GDALAllRegister()  # no-op if pyogrio registered them already; makes the list complete
    missing = keep - set(registered_drivers())
    if missing:
        raise RuntimeError(f"GDAL lacks the drivers the portal needs: {sorted(missing)}")
    skip = [name for name in registered_drivers() if name not in keep]
    if skip:
        lib.CPLSetConfigOption(b"GDAL_SKIP", ",".join(skip).encode())
        lib.GDALAllRegister()
    lib.CPLHTTPSetFetchCallback(_refuse_fetch, None)
    _state.drivers = keep


def is_hardened() -> bool:
    return _state.lib is not None and set(registered_drivers()) <= _state.drivers


def _require() -> ctypes.CDLL:
    if _state.lib is None:
        raise GdalNotHardened("GDAL was not hardened in this process (config.gdal).")
    return _state.lib


def _string_list(values: Iterable[str]):
    items = [v.encode() for v in values]
    if not items:
        return None
    return (ctypes.c_char_p * (len(items) + 1))(*items, None)


@dataclass(frozen=True)
class OpenedVector:
    driver: str
    layer_count: int


def open_vector(
    path: str, *, drivers: Iterable[str], open_options: Mapping[str, str] | None = None
) -> OpenedVector:
    """Open ``path`` read-only as vector data with only ``drivers`` allowed, then close it.

    Raises GdalOpenError with GDAL's reason when none of them opens the file.
    """
    lib = _require()
    if not is_hardened():
        raise GdalNotHardened("GDAL drivers outside the portal's list are registered.")
    allowed = _string_list(drivers)
    if allowed is None:
        raise ValueError("open_vector needs at least one driver")
    options = _string_list(f"{k}={v}" for k, v in (open_options or {}).items())
    lib.CPLErrorReset()
    handle = lib.GDALOpenEx(
        path.encode(),
        GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR,
        allowed,
        options,
        None,
    )
    if not handle:
        reason = (lib.CPLGetLastErrorMsg() or b"").decode("utf-8", "replace").strip()
        raise GdalOpenError(reason or "not recognised by the allowed drivers")
    try:
        driver = lib.GDALGetDriverShortName(lib.GDALGetDatasetDriver(handle)).decode()
        return OpenedVector(driver=driver, layer_count=lib.GDALDatasetGetLayerCount(handle))
    finally:
        lib.GDALClose(handle)


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
