"""Keep the worker's memory near its floor: no unused libraries, freed memory given back.

pyarrow imports pandas on its first array whenever pandas is installed (it checks whether
the input is a pandas object). The worker never needs it: it reads and writes Arrow and
scores with numpy, and never unpickles a model. In a process that has training installed,
that one import costs ~36 MB of RSS and ~0.3 s of start-up (measured, ``make
bench-memory``). This module imports nothing heavy, so it can run before pyarrow does.
"""

from __future__ import annotations

import contextlib
import ctypes
import platform
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from typing import Any

KEPT_OUT = frozenset({"pandas"})


class _KeepOut(MetaPathFinder):
    """Makes ``import pandas`` fail as if it were not installed; pyarrow then skips it."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name.partition(".")[0] in KEPT_OUT:
            raise ModuleNotFoundError(f"{name} is kept out of the worker", name=name)
        return None


def keep_unused_libraries_out() -> None:
    """Call before the worker's modules load. A no-op if pandas is already imported (in a
    test process, say): taking it away then would break whoever imported it."""
    if any(name in sys.modules for name in KEPT_OUT):
        return
    if not any(isinstance(finder, _KeepOut) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KeepOut())


# glibc's mallopt parameter: allocations at least this big get their own mmap.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def give_freed_memory_back() -> None:
    """Choose allocators that return freed memory to the system rather than keep it.

    The worker's big buffers (input blocks, output parts) are freed at once and come back
    a moment later; allocators keep such memory for reuse, which shows as RSS. Measured
    on the 1M-row CSV job (``make bench-memory``): Arrow's jemalloc pool holds ~20 MB less
    at peak than its default mimalloc pool, and a fixed glibc mmap threshold (glibc raises
    it as big blocks are freed, after which they stay in the heap) another ~10 MB.
    """
    import pyarrow as pa

    with contextlib.suppress(NotImplementedError):  # built without jemalloc: the default
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    if platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
