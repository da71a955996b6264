"""Keep freed memory in the web worker instead of handing it back to the system after each
request (glibc's malloc only; elsewhere a no-op).

A page of a large layer moves megabyte-sized buffers: the result libpq receives, the bytes
psycopg gives us, the response gunicorn writes. With glibc's defaults, buffers this large are
mapped afresh or given back to the kernel when freed (``M_MMAP_THRESHOLD`` starts at 128 KiB,
``M_TRIM_THRESHOLD`` at twice the largest mapped block), so the next request faults the same
pages in again and the kernel zeroes them. Raising both thresholds keeps them in the heap:
measured 8 % faster on a 10,000-feature page (1.8 MB) served by gunicorn, interleaved against
the defaults in one run (bench/README.md). The cost is a worker that keeps up to ``trim_mib``
of free heap instead of returning it.

Called from config/wsgi.py; ``GRC_MALLOC_TUNING=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)


def keep_freed_memory(*, mmap_mib: int = 32, trim_mib: int = 128) -> bool:
    """Serve allocations up to ``mmap_mib`` from the heap and keep up to ``trim_mib`` of free
    heap. Returns whether glibc took both settings."""
    if platform.libc_ver()[0] != "glibc":  # musl and others: no such thresholds
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mmap = min(mmap_mib * 1024 * 1024, MMAP_THRESHOLD_MAX)
    done = bool(mallopt(M_MMAP_THRESHOLD, mmap)) and bool(
        mallopt(M_TRIM_THRESHOLD, trim_mib * 1024 * 1024)
    )
    if not done:
        logger.warning("mallopt refused the thresholds: glibc's defaults stay")
    return done
