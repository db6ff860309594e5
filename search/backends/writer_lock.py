"""The one-writer-at-a-time lock of an index folder, shared by every backend."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search.errors import IndexBusy


@contextmanager
def folder_writer_lock(root: Path) -> Iterator[None]:
    """Hold `root/writer.lock` exclusively (flock); raise IndexBusy naming the holder when
    another process has it. The lock goes with the process, however it ends."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / "writer.lock", "a+")  # noqa: SIM115 - closed in finally
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise IndexBusy(f"{root} is being updated by {holder}; wait for it to finish") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
