"""Batch searches run by the server: small ones at once, large ones as jobs in a background
thread, one at a time, their results kept in memory for a while to be read and downloaded.

A batch reads only what /api/search reads, so whoever may search may run one; what is
guarded is the load: at most BATCH_LIMIT queries a batch, one batch computing at a time per
worker process, at most MAX_WAITING waiting per worker (more are refused with 429), and the
results of the last KEEP batches kept: in memory, or with several worker processes in their
shared folder (web/shared_batches.py), so that any worker answers for any job.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from search.engine import Engine
from search.investigate.batch import QueryResult, result_from_dict, result_to_dict, run_batch
from search.investigate.batch_input import BatchInput
from search.ranking.query import Mode

from .jobs import JobStatus

log = logging.getLogger(__name__)

# A batch of at most this many queries is answered at once; a larger one becomes a job.
RUN_AT_ONCE = 100
MAX_WAITING = 4
KEEP = 20


class BatchesBusy(Exception):
    """Too many batches are waiting."""


@dataclass(frozen=True)
class BatchJob:
    id: str
    status: JobStatus
    created: str
    mode: Mode
    queries: int
    done: int = 0
    started: str | None = None
    finished: str | None = None
    seconds: float | None = None
    results: list[QueryResult] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        finished = self.status is JobStatus.DONE
        return {"id": self.id, "status": self.status.value, "created": self.created,
                "started": self.started, "finished": self.finished, "mode": self.mode.value,
                "queries": self.queries, "done": self.done, "seconds": self.seconds,
                "failed": sum(1 for r in self.results if r.error is not None),
                "error": self.error,
                "results": [result_to_dict(r) for r in self.results] if finished else None}

    def to_record(self) -> dict[str, Any]:
        """Everything about the job, results included, as JSON values (see from_record)."""
        return self.to_dict() | {"results": [result_to_dict(r) for r in self.results]}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BatchJob:
        return cls(record["id"], JobStatus(record["status"]), record["created"],
                   Mode(record["mode"]), record["queries"], record["done"], record["started"],
                   record["finished"], record["seconds"],
                   [result_from_dict(r) for r in record["results"]], record["error"])

    @property
    def finished_state(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


class BatchStore(Protocol):
    """Where a BatchRunner keeps its jobs' states."""

    def put(self, job: BatchJob) -> None: ...

    def get(self, job_id: str) -> BatchJob | None: ...


class MemoryBatchStore:
    """The last `keep` jobs of one process, in memory."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, BatchJob] = OrderedDict()

    def put(self, job: BatchJob) -> None:
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)

    def get(self, job_id: str) -> BatchJob | None:
        with self._lock:
            return self._jobs.get(job_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class BatchRunner:
    """Runs batches against one engine, one at a time, and remembers the recent ones."""

    def __init__(self, engine: Engine, first_hits: int = 3, store: BatchStore | None = None
                 ) -> None:
        self._engine = engine
        self._first_hits = first_hits
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._jobs = store or MemoryBatchStore()
        self._waiting = 0

    def submit(self, batch: BatchInput, mode: Mode) -> BatchJob:
        """Run a small batch now, or start a large one in the background; raises
        BatchesBusy when MAX_WAITING batches wait already."""
        with self._lock:
            if self._waiting >= MAX_WAITING:
                raise BatchesBusy(f"{self._waiting} batches are waiting; try again later")
            self._waiting += 1
            job = BatchJob(uuid.uuid4().hex[:12], JobStatus.QUEUED, _now(), mode,
                           len(batch.items) + len(batch.problems))
            self._store(job)
        if len(batch.items) <= RUN_AT_ONCE:
            return self._run(job, batch)
        threading.Thread(target=self._run, args=(job, batch), name=f"batch-{job.id}",
                         daemon=True).start()
        return job

    def get(self, job_id: str) -> BatchJob | None:
        return self._jobs.get(job_id)

    def _store(self, job: BatchJob) -> None:
        self._jobs.put(job)

    def _update(self, job: BatchJob, **changes: Any) -> BatchJob:
        job = replace(job, **changes)
        with self._lock:
            self._store(job)
        return job

    def _run(self, job: BatchJob, batch: BatchInput) -> BatchJob:
        with self._one_at_a_time:
            with self._lock:
                self._waiting -= 1
            job = self._update(job, status=JobStatus.RUNNING, started=_now())
            started = time.perf_counter()

            def progress(done: int, total: int) -> None:
                self._update(self.get(job.id) or job, done=done)

            try:
                results = run_batch(self._engine, batch, job.mode, self._first_hits, progress)
            except Exception as exc:  # a job must end in a state, whatever went wrong
                log.exception("batch %s failed", job.id)
                return self._update(job, status=JobStatus.FAILED, finished=_now(),
                                    error=f"{type(exc).__name__}: {exc}")
            return self._update(job, status=JobStatus.DONE, finished=_now(),
                                done=len(batch.items), results=results,
                                seconds=round(time.perf_counter() - started, 3))
