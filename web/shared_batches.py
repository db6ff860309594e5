"""Batch jobs shared by the worker processes of one server, in their jobs folder.

`search serve --workers N` gives its workers one folder (web/shared_jobs.py); batches keep
there, beside the reindex jobs:

    batches/<id>.json  each recent batch's state (its results once done), replaced atomically
    batches/<id>.lock  flock held by the worker running the batch, for as long as it runs

A batch runs in the worker that received it, but its status, page and downloads are read
from the folder by whichever worker answers. The kernel drops a lock when its process dies,
so a batch still running in its file whose lock is free belonged to a dead worker, and reads
as failed.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import replace
from pathlib import Path

from .batch_jobs import KEEP, BatchJob
from .jobs import JobStatus
from .shared_jobs import WORKER_DIED, is_job_id, replace_file


class SharedBatchStore:
    """A BatchStore in `folder`/batches, consistent across processes (see the module)."""

    def __init__(self, folder: Path, keep: int = KEEP) -> None:
        self.folder = folder / "batches"
        self._keep = keep
        self._held: dict[str, int] = {}  # job id -> descriptor holding its lock
        self._threads = threading.Lock()

    def put(self, job: BatchJob) -> None:
        with self._threads:
            self.folder.mkdir(parents=True, exist_ok=True)
            new = not self._path(job.id, "json").exists()
            if not job.finished_state and job.id not in self._held:
                self._held[job.id] = self._hold(job.id)
            # Written before the lock goes, so that a reader who finds the lock free reads
            # the finished state (see get).
            replace_file(self._path(job.id, "json"), json.dumps(job.to_record()))
            if job.finished_state:
                held = self._held.pop(job.id, None)
                if held is not None:
                    os.close(held)
            if new:
                self._prune()

    def get(self, job_id: str) -> BatchJob | None:
        if not is_job_id(job_id):
            return None
        job = self._read(job_id)
        if job is None or job.finished_state or not self._free(job_id):
            return job
        job = self._read(job_id)  # it may have finished just now
        if job is not None and not job.finished_state:
            job = replace(job, status=JobStatus.FAILED, error=WORKER_DIED)
        return job

    def _path(self, job_id: str, suffix: str) -> Path:
        return self.folder / f"{job_id}.{suffix}"

    def _hold(self, job_id: str) -> int:
        descriptor = os.open(self._path(job_id, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return descriptor

    def _free(self, job_id: str) -> bool:
        """Whether no process holds the job's lock (flock locks belong to the open file, so
        this process's own running job counts as held)."""
        try:
            descriptor = os.open(self._path(job_id, "lock"), os.O_RDWR)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(descriptor)
        return True

    def _read(self, job_id: str) -> BatchJob | None:
        try:
            text = self._path(job_id, "json").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return BatchJob.from_record(json.loads(text))

    def _prune(self) -> None:
        jobs = sorted(self.folder.glob("*.json"), key=lambda path: path.stat().st_mtime_ns)
        for path in jobs[: max(0, len(jobs) - self._keep)]:
            if path.stem not in self._held and self._free(path.stem):  # none running
                path.unlink(missing_ok=True)
                path.with_suffix(".lock").unlink(missing_ok=True)
