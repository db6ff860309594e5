"""Python's cyclic garbage collector paused over bulk work.

Work that keeps hundreds of thousands of new objects alive (an alert evaluation at 10,000
alerts, a batch of 1,000 searches) sets off collections that scan the whole heap, a loaded
model's included, again and again as it grows: a quarter of their time here
(docs/benchmarks.md). Paused, the cycles such work leaves are collected when it ends. The
pause is process-wide and counted, so that work overlapping in threads resumes collection
only when the last of it ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.resume = False  # whether collection was on when the first pause began


_PAUSES = _Pauses()


@contextmanager
def cycles_collected_after() -> Iterator[None]:
    """No cyclic garbage collection inside the block (unless other work still holds the
    pause, it is back on after it, also when the block fails)."""
    with _PAUSES.lock:
        if _PAUSES.open == 0:
            _PAUSES.resume = gc.isenabled()
            gc.disable()
        _PAUSES.open += 1
    try:
        yield
    finally:
        with _PAUSES.lock:
            _PAUSES.open -= 1
            if _PAUSES.open == 0 and _PAUSES.resume:
                gc.enable()
