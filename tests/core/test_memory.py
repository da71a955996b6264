"""core.memory: once tuned, blocks of 20 MB come from the heap and stay there when freed, three
at a time too, where glibc's defaults map the first one and unmap it, then give three freed
blocks back to the kernel (read from mallinfo2, in new processes: this one keeps its
defaults)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import ctypes, sys
sys.path.insert(0, sys.argv[1])
from core.memory import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 20 * 1024 * 1024

def cycle(n):
    # mapped blocks among n allocated at once, and whether freeing them all keeps them
    before = libc.mallinfo2().hblks
    blocks = [libc.malloc(SIZE) for _ in range(n)]
    for block in blocks:
        ctypes.memset(block, 1, SIZE)
    mapped = libc.mallinfo2().hblks - before
    for block in blocks:
        libc.free(block)
    return mapped, libc.mallinfo2().fordblks >= n * SIZE

if sys.argv[2] == "tuned":
    assert keep_freed_memory()
elif sys.argv[2] == "wsgi":  # what gunicorn imports
    import config.wsgi  # noqa: F401
print(cycle(1), cycle(3))
"""


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")


def test_big_blocks_stay_in_the_heap_once_tuned():
    assert probe("default") == "(1, False) (0, False)"
    assert probe("tuned") == "(0, True) (0, True)"


def test_the_web_worker_is_tuned_unless_turned_off():
    """config.wsgi, which gunicorn loads, tunes the worker; GRC_MALLOC_TUNING=0 leaves glibc's
    defaults."""
    assert probe("wsgi") == "(0, True) (0, True)"
    assert probe("wsgi", GRC_MALLOC_TUNING="0") == "(1, False) (0, False)"


def probe(mode, **env):
    argv = [sys.executable, "-c", PROBE, str(ROOT), mode]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "memory-probe-" + "k" * 50,
        "DATABASE_URL": settings.DATABASE_URL,  # read, never connected to
        "SITE_URL": "https://portail.libercourt.fr",  # required by production settings
        "ALLOWED_HOSTS": "portail.libercourt.fr",
        "GRC_ENV_FILE": "/nonexistent",
        **env,
    }
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
