"""What `search serve` sets up around the app: quiet third-party logs, and no jobs folders
left by servers that were killed."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

JOBS_PREFIX = "search-serve-"  # then the server's pid: a jobs folder of `serve --workers`
_QUEUE_WARNING_EVERY = 10.0  # seconds between waitress's "Task queue depth" warnings


class _EveryFewSeconds(logging.Filter):
    """Lets one record through per `seconds`, saying how many were held back."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self._last = -seconds
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self.seconds:
            self._held += 1
            return False
        if self._held:
            record.msg = f"{record.msg} ({self._held} such warnings in the last " \
                         f"{now - self._last:.0f} s)"
        self._last, self._held = now, 0
        return True


def quiet_third_party_logs() -> None:
    """faiss's loader logs at INFO which CPU code it loads, in words that read like an error;
    waitress warns of its queue depth once per request in a burst (1,601 lines in one)."""
    logging.getLogger("faiss").setLevel(logging.WARNING)
    logging.getLogger("waitress.queue").addFilter(_EveryFewSeconds(_QUEUE_WARNING_EVERY))


def sweep_stale_jobs_folders(temp_dir: str) -> list[str]:
    """Remove the jobs folders of servers no longer running (killed, so their own cleanup
    never ran); returns what went."""
    removed = []
    for folder in Path(temp_dir).glob(f"{JOBS_PREFIX}*"):
        pid = folder.name[len(JOBS_PREFIX):].split("-", 1)[0]
        if folder.is_dir() and pid.isdecimal() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
