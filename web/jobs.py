"""Index updates run by the server: reindex jobs (from the API) and the seeds watcher.

Both go through one Reindexer, so at most one update runs at a time (across the server's
worker processes too, when its JobBoard is a SharedJobBoard); the engine keeps answering
queries from the old generation until the update publishes a new one.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from search.errors import IndexBusy, SearchError
from search.index.summary import IndexSummary
from search.ingest.seeds import SUPPORTED_SUFFIXES
from search.printable import printable
from search.serialize import summary_to_dict

log = logging.getLogger(__name__)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    id: str
    trigger: str  # "api" or "watch"
    status: JobStatus
    created: str
    started: str | None = None
    finished: str | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None
    # The index was busy (another writer): worth retrying rather than giving up on.
    busy: bool = field(default=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "status": self.status.value,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "summary": self.summary,
            "error": self.error,
        }

    @property
    def finished_state(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JobBoard(Protocol):
    """Where a Reindexer keeps its jobs: which one runs, and the recent ones' states."""

    def claim(self, trigger: str) -> Job:
        """Record a new queued job as the active one; raises IndexBusy while one is."""

    def update(self, job: Job) -> None:
        """Record a job's new state; a finished job is no longer the active one."""

    def get(self, job_id: str) -> Job | None: ...


def busy_error(active: str) -> IndexBusy:
    return IndexBusy(f"reindex job {active} is already running; "
                     f"follow it at /api/reindex/{active}")


def new_job(trigger: str) -> Job:
    return Job(uuid.uuid4().hex[:12], trigger, JobStatus.QUEUED, _now())


class MemoryJobBoard:
    """The jobs of one process, in memory."""

    def __init__(self, keep: int = 50) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._active: str | None = None

    def claim(self, trigger: str) -> Job:
        with self._lock:
            if self._active is not None:
                raise busy_error(self._active)
            job = new_job(trigger)
            self._jobs[job.id] = job
            self._active = job.id
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
            return job

    def update(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            if job.finished_state and self._active == job.id:
                self._active = None

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)


class Reindexer:
    """Runs index updates one at a time and remembers the most recent jobs (on `board`: in
    this process's memory by default, or shared by the server's worker processes)."""

    def __init__(self, update: Callable[[], IndexSummary], board: JobBoard | None = None
                 ) -> None:
        self._update = update
        self.board: JobBoard = board or MemoryJobBoard()
        self._thread: threading.Thread | None = None

    def submit(self, trigger: str = "api") -> Job:
        """Start an update in the background; raises IndexBusy while another one runs."""
        job = self.board.claim(trigger)
        self._thread = threading.Thread(
            target=self._execute, args=(job,), name=f"reindex-{job.id}", daemon=True
        )
        self._thread.start()
        return job

    def run(self, trigger: str = "watch") -> Job:
        """Run an update in the calling thread; raises IndexBusy while another one runs."""
        return self._execute(self.board.claim(trigger))

    def get(self, job_id: str) -> Job | None:
        return self.board.get(job_id)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background job started last, if any."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _set(self, job: Job, **changes: Any) -> Job:
        job = replace(job, **changes)
        self.board.update(job)
        return job

    def _execute(self, job: Job) -> Job:
        job = self._set(job, status=JobStatus.RUNNING, started=_now())
        try:
            summary = self._update()
        except SearchError as exc:
            # The message, not the exception: a handler that keeps records would keep its
            # traceback, and with it whatever the failed update still had open.
            log.warning("reindex job %s failed: %s", job.id, printable(str(exc)))
            return self._set(job, status=JobStatus.FAILED, finished=_now(), error=str(exc),
                             busy=isinstance(exc, IndexBusy))
        except Exception as exc:  # a job must end in a state, whatever went wrong
            log.exception("reindex job %s failed unexpectedly", job.id)
            return self._set(job, status=JobStatus.FAILED, finished=_now(),
                             error=f"unexpected error: {type(exc).__name__}: {exc}")
        for problem in summary.problems:
            log.warning("reindex job %s skipped %s", job.id,
                        printable(f"{problem.path}: {problem.reason}"))
        for warning in summary.warnings:
            log.warning("reindex job %s: %s", job.id, printable(warning))
        log.info("reindex job %s done: generation %s", job.id, summary.generation)
        return self._set(job, status=JobStatus.DONE, finished=_now(),
                         summary=summary_to_dict(summary))


Signature = frozenset[tuple[str, int, int]]


def seeds_signature(seeds_dir: Path, skip: Path | None = None) -> Signature:
    """(path, size, mtime) of every supported visible file under seeds_dir (as `search index`
    reads them): cheap to take, and it changes whenever such a file is added, removed,
    replaced or rewritten. Each folder is entered once however many links lead to it (a link
    loop ends), never one outside seeds_dir, and never `skip` (an index folder kept inside)."""
    root = os.path.realpath(seeds_dir)
    skipped = os.path.realpath(skip) if skip is not None else None
    found = set()
    entered: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(seeds_dir, followlinks=True):
        real = os.path.realpath(folder)
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        inside = real == root or real.startswith(root + os.sep)
        if (info.st_dev, info.st_ino) in entered or not inside or real == skipped:
            dirs[:] = []
            continue
        entered.add((info.st_dev, info.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(SUPPORTED_SUFFIXES):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:  # vanished or a broken link; the indexer reports it
                continue
            found.add((os.path.relpath(path, seeds_dir), info.st_size, info.st_mtime_ns))
    return frozenset(found)


class _Poller:
    """A daemon thread calling poll() every `interval` seconds until stopped. Errors are
    logged and never stop the thread."""

    def __init__(self, name: str, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def poll(self) -> object:
        raise NotImplementedError

    def _loop(self) -> None:
        last_error = None
        while not self._stop.is_set():
            try:
                self.poll()
                last_error = None
            except Exception as exc:
                # Logged once until it changes or goes away, not every `interval` seconds; a
                # user's error (an index folder being rebuilt) in one line, without traceback.
                if repr(exc) != last_error and isinstance(exc, SearchError):
                    log.warning("%s: %s; trying again every %.1f s", self._thread.name,
                                exc, self.interval)
                elif repr(exc) != last_error:
                    log.exception("%s: poll failed; trying again every %.1f s",
                                  self._thread.name, self.interval)
                last_error = repr(exc)
            self._stop.wait(self.interval)


class GenerationFollower(_Poller):
    """Lets the engine pick up a generation that another writer published (such as
    `search index` in a terminal): `refresh` reads the index's CURRENT file, a few bytes,
    and loads the generation only when it changed."""

    def __init__(self, refresh: Callable[[], bool], interval: float = 1.0) -> None:
        super().__init__("generation-follower", interval)
        self.refresh = refresh

    def poll(self) -> bool:
        return self.refresh()


class SeedsWatcher(_Poller):
    """Polls seeds/ and runs an update through the Reindexer when its files change."""

    def __init__(self, seeds_dir: Path, reindexer: Reindexer, interval: float = 2.0,
                 index_dir: Path | None = None) -> None:
        super().__init__("seeds-watcher", interval)
        self.seeds_dir = seeds_dir
        self.reindexer = reindexer
        self.index_dir = index_dir  # not watched if it lies inside seeds_dir
        self._seen: Signature | None = None

    def poll(self) -> Job | None:
        """Check seeds/ once; returns the update job it ran, if it ran one.

        The first poll always runs an update, so that files changed while the server was
        down are picked up (an update with nothing to do is cheap).
        """
        started = time.monotonic()
        signature = seeds_signature(self.seeds_dir, self.index_dir)
        took = time.monotonic() - started
        if took > max(self.interval, 1.0):
            log.warning("seeds-watcher: looking through %s (%d files) took %.1f s; it is "
                        "polled every %.1f s", self.seeds_dir, len(signature), took,
                        self.interval)
        if signature == self._seen:
            return None
        try:
            job = self.reindexer.run(trigger="watch")
        except IndexBusy:
            return None  # an API job is running; look again at the next poll
        if not job.busy:
            # After any other failure, wait for the next change rather than retry in a loop.
            self._seen = signature
        return job
