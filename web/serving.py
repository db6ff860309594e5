"""Serving the app: one process with waitress's threads, or forked worker processes that
share the loaded index and model (web.workers). `search serve` is this module's caller."""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NoReturn

from waitress.server import create_server

from search.backends import DEFAULT_BACKEND, recorded
from search.config import Settings
from search.encoders.loading import available_cores

from . import create_app
from .workers import serve_in_workers


def serve_app(index_dir: Path, seeds_dir: Path, host: str, port: int, watch: bool,
              workers: int | None, threads: int, precision: str,
              echo: Callable[..., None]) -> None:
    """Serve the search page and the API until Ctrl+C or SIGTERM; `echo(text, err=False)`
    prints what the server says (its address, notes). workers: None, one per core."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(process)d %(name)s: %(message)s")
    workers = serving_processes(index_dir, workers or available_cores(), workers is not None,
                                echo)
    echo(f"loading {index_dir} and its model...", err=True)
    shown = f"[{host}]" if ":" in host else host
    watching = f" (watching {seeds_dir})" if watch else ""
    if workers > 1:
        jobs_dir = tempfile.mkdtemp(prefix="search-serve-")
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

    # SIGTERM (service managers) stops as cleanly as Ctrl+C
    def stop(signum: int, frame: FrameType | None) -> NoReturn:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server = create_server(app, host=host, port=port, threads=threads)
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


