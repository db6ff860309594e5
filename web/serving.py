"""Serving the app: one process with waitress's threads, or forked worker processes that
share the loaded index and model (web.workers). `search serve` is this module's caller.

Around the app it keeps the logs an operator reads quiet (third-party noise, rate-limited
queue warnings) and removes the jobs folders of servers that were killed."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

from waitress.server import create_server

from search.backends import DEFAULT_BACKEND, recorded
from search.config import Settings
from search.encoders.loading import available_cores
from search.errors import SearchError

from . import create_app
from .workers import listening_socket, serve_in_workers

JOBS_PREFIX = "search-serve-"  # then the server's pid: a jobs folder of `serve --workers`
_QUEUE_WARNING_EVERY = 10.0  # seconds between waitress's "Task queue depth" warnings


class CannotListen(SearchError):
    """The address is in use or cannot be bound; said before the model loads."""


def serve_app(index_dir: Path, seeds_dir: Path, host: str, port: int, watch: bool,
              workers: int | None, threads: int, precision: str,
              echo: Callable[..., None]) -> None:
    """Serve the search page and the API until Ctrl+C, SIGTERM or SIGHUP; `echo(text,
    err=False)` prints what the server says (its address, notes). workers: None, one per
    core. Raises CannotListen, before anything loads, when host:port cannot be bound."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(process)d %(name)s: %(message)s")
    quiet_third_party_logs()
    try:  # before the model loads: a port in use or a bad address is known at once
        listening_socket(host, port).close()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CannotListen(f"cannot listen on {host}:{port}: {reason}") from None
    sweep_stale_jobs_folders(tempfile.gettempdir())
    workers = serving_processes(index_dir, workers or available_cores(), workers is not None,
                                echo)
    echo(f"loading {index_dir} and its model...", err=True)
    shown = f"[{host}]" if ":" in host else host
    watching = f" (watching {seeds_dir})" if watch else ""
    if workers > 1:
        jobs_dir = tempfile.mkdtemp(prefix=f"{JOBS_PREFIX}{os.getpid()}-")
        try:
            app = create_app({"INDEX_DIR": index_dir, "SEEDS_DIR": seeds_dir, "WATCH": watch,
                              "JOBS_DIR": jobs_dir, "BACKGROUND": False, "WORKER_HEADER": True,
                              "SETTINGS": Settings(precision=precision)})
            try:
                serve_in_workers(app, host, port, workers, threads, lambda bound: echo(
                    f"serving http://{shown}:{bound}/ with {workers} worker processes"
                    f"{watching}; Ctrl+C stops"))
            finally:
                app.extensions["search"].close()
        finally:
            shutil.rmtree(jobs_dir, ignore_errors=True)
        return
    app = create_app({"INDEX_DIR": index_dir, "SEEDS_DIR": seeds_dir, "WATCH": watch,
                      "SETTINGS": Settings(precision=precision)})

    # SIGTERM (service managers) and SIGHUP (a closed terminal) stop as cleanly as Ctrl+C
    def stop(signum: int, frame: FrameType | None) -> NoReturn:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    try:
        server = create_server(app, host=host, port=port, threads=threads,
                               max_request_body_size=app.config["MAX_CONTENT_LENGTH"])
        echo(f"serving http://{shown}:{getattr(server, 'effective_port', port)}/"
             f"{watching}; Ctrl+C stops")
        try:
            server.run()
        finally:
            server.close()
    finally:
        app.extensions["search"].close()


def serving_processes(index_dir: Path, workers: int, asked: bool,
                      echo: Callable[..., None]) -> int:
    """Worker processes for `serve`: one for an index on Qdrant, whose client (a connection
    pool, or local mode's whole collection in memory) cannot be shared by forked processes;
    such a web tier scales with more `search serve` processes behind a load balancer."""
    backend, _ = recorded(index_dir)
    if workers == 1 or backend == DEFAULT_BACKEND:
        return workers
    if asked:
        echo(f"note: an index on {backend} is served by one process; for more, run "
             "several `search serve` behind a load balancer (docs/scale.md)", err=True)
    return 1


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
