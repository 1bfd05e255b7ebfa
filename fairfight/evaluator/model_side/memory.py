"""Memory that the model server frees goes back to the operating system.

glibc's malloc gives a block above its mmap threshold a mapping of its own, returned when freed;
but the threshold follows the largest block freed so far (up to 32 MiB), so once the first
batch's activations are freed, later ones are carved from the heap. A pass's batches grow
(they are length-sorted), each needs a block larger than any freed before, and the heap only
grows: a 4,000-text MiniLM pass left a process at 1.3 GB resident (1.4 GB at its peak; 0.5 GB
after malloc_trim). With a fixed threshold every large tensor keeps its own mapping: the same
pass peaked at 0.67 GB. Measured in benchmarks/eval_vs_script.py (peak memory of the tree).
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
THRESHOLD = 128 * 1024  # glibc's default starting value, kept fixed


def release_freed_memory() -> bool:
    """Fix glibc's mmap threshold in this process; False where there is no glibc (then nothing changes)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): its own allocator, left as it is
        return False


__all__ = ["release_freed_memory"]
