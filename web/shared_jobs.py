"""Reindex jobs shared by the worker processes of one server, in a small folder.

`search serve --workers N` gives its workers one folder (made by the supervising process,
removed when it stops; never the index folder, which readers must not write):

    lock           flock held for a moment around every change of the board
    running        flock held by the worker running the active job, for as long as it runs
    active         the id of that job
    jobs/<id>.json each recent job's state, replaced atomically

Whichever worker answers, it reads the same files, so a job started through one worker can
be followed through any other, and a second job is refused while `running` is held. The
kernel drops a lock when its process dies, so a job whose worker died reads as failed.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .jobs import Job, JobStatus, busy_error, new_job

WORKER_DIED = "the worker process running this job stopped before it finished"


class SharedJobBoard:
    """A JobBoard in `folder`, consistent across processes (see the module's docstring)."""

    def __init__(self, folder: Path, keep: int = 50) -> None:
        self.folder = folder
        self._keep = keep
        self._held: dict[str, int] = {}  # job id -> descriptor holding `running`
        self._threads = threading.Lock()  # flock does not exclude this process's threads

    def claim(self, trigger: str) -> Job:
        with self._board():
            running = self._lock_running()
            if running is None:
                raise busy_error(self._read_text("active") or "?")
            job = new_job(trigger)
            try:
                self._write(job)
                self._write_text("active", job.id)
                self._prune()
            except BaseException:
                os.close(running)
                raise
            self._held[job.id] = running
            return job

    def update(self, job: Job) -> None:
        self._write(job)  # before `running` is released: see get()
        if job.finished_state:
            with self._board():
                if self._read_text("active") == job.id:
                    (self.folder / "active").unlink(missing_ok=True)
                held = self._held.pop(job.id, None)
                if held is not None:
                    os.close(held)

    def get(self, job_id: str) -> Job | None:
        if not is_job_id(job_id):
            return None
        job = self._read(job_id)
        if job is None or job.finished_state:
            return job
        with self._board():
            running = self._lock_running()
            if running is None:
                return job  # its worker is alive and holds the lock
            try:
                # Free: either the job finished meanwhile (its state was written before the
                # lock went), or its worker died.
                job = self._read(job_id)
                if job is not None and not job.finished_state:
                    job = replace(job, status=JobStatus.FAILED, error=WORKER_DIED)
                    self._write(job)
                    (self.folder / "active").unlink(missing_ok=True)
                return job
            finally:
                os.close(running)

    @contextmanager
    def _board(self) -> Iterator[None]:
        with self._threads:
            self.folder.joinpath("jobs").mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)

    def _lock_running(self) -> int | None:
        """A descriptor holding `running`, or None while another holds it (in any process:
        flock locks belong to the open file, so this process's own job counts too)."""
        descriptor = os.open(self.folder / "running", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        return descriptor

    def _path(self, job_id: str) -> Path:
        return self.folder / "jobs" / f"{job_id}.json"

    def _write(self, job: Job) -> None:
        record = job.to_dict() | {"busy": job.busy}
        replace_file(self._path(job.id), json.dumps(record))

    def _read(self, job_id: str) -> Job | None:
        try:
            record = json.loads(self._path(job_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Job(record["id"], record["trigger"], JobStatus(record["status"]),
                   record["created"], record["started"], record["finished"],
                   record["summary"], record["error"], record["busy"])

    def _read_text(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _write_text(self, name: str, text: str) -> None:
        replace_file(self.folder / name, text)

    def _prune(self) -> None:
        jobs = sorted(self.folder.joinpath("jobs").glob("*.json"),
                      key=lambda path: path.stat().st_mtime_ns)
        for path in jobs[: max(0, len(jobs) - self._keep)]:
            path.unlink(missing_ok=True)


def is_job_id(text: str) -> bool:
    return 0 < len(text) <= 32 and text.isalnum() and text.isascii()


def replace_file(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
