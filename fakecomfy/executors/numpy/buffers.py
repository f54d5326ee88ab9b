"""Memory for big pictures, taken back and handed out again when the picture is dropped.

A fresh array costs a page fault per 4 KiB page on first write (or a huge-page compaction): on
a VM that is 20 to 300 ms of kernel time for the 100 MB of a 1024 px batch of 8, several times
the drawing itself. A sampler's output is dropped from the engine's cache when the next prompt
starts, just before that prompt's sampler wants as much memory again; so its buffer is kept.

A buffer goes back to the pool only when nothing else holds its memory: every numpy view of an
array holds the array's buffer (its ``base``), so the buffer's reference count says whether a
view of the dropped picture is still alive somewhere.
"""
from __future__ import annotations

import math
import sys
import threading
import weakref

import numpy as np

MIN_BYTES = 1 << 20  # smaller arrays fault in too little time to be worth keeping
KEEP_BYTES = 256 << 20  # the most memory kept for reuse


class BufferPool:
    """float32 arrays backed by buffers that are reused once their array and its views are gone."""

    def __init__(self, keep_bytes: int = KEEP_BYTES, min_bytes: int = MIN_BYTES) -> None:
        self.keep_bytes, self.min_bytes = keep_bytes, min_bytes
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()
        # the reference count _release sees for a buffer nothing else holds (the finalizer's own
        # references): measured on a probe rather than assumed; 0 (never reuse) if the probe's
        # finalizer does not run at once, as on Pythons without reference counting
        self._unshared = -1
        probe = np.empty(8, dtype=np.uint8)
        array = probe.view(np.float32)
        weakref.finalize(array, self._release, probe)
        del probe, array
        self._unshared = max(0, self._unshared)

    def empty(self, shape: tuple[int, ...]) -> np.ndarray:
        """Like ``np.empty(shape, np.float32)``; the memory may have been used before."""
        nbytes = math.prod(shape) * 4
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype=np.float32)
        with self._lock:
            index = next((i for i, b in enumerate(self._free) if b.nbytes == nbytes), None)
            buffer = self._free.pop(index) if index is not None else np.empty(nbytes, dtype=np.uint8)
        array = buffer.view(np.float32).reshape(shape)
        weakref.finalize(array, self._release, buffer)
        return array

    def kept(self) -> int:
        """Bytes waiting to be reused."""
        with self._lock:
            return sum(b.nbytes for b in self._free)

    def _release(self, buffer: np.ndarray) -> None:
        count = sys.getrefcount(buffer)
        if self._unshared < 0:  # the probe
            self._unshared = count
            return
        if count > self._unshared:  # a view of the array still uses it
            return
        with self._lock:
            self._free.append(buffer)
            while sum(b.nbytes for b in self._free) > self.keep_bytes:
                self._free.pop(0)  # the oldest goes

