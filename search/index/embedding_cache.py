"""The embedding cache: vectors by (model, paragraph text hash), in one SQLite file of the
index folder, so that rebuilds and edits embed only texts never seen before.

It is a cache only, and it never breaks an update: a damaged file is deleted and started
afresh, a file that another process holds locked or that cannot be written (a full disk) is
bypassed, and a vector that comes back damaged (not of the model's dimension, not finite and
of unit length) counts as not cached. Each of these is told once, in `warning`.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# Seconds to wait for another process's lock before going on without the cache.
LOCK_TIMEOUT = 2.0
# SQLite's primary result codes that mean the file itself is damaged.
_DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_SUFFIXES = ("", "-journal", "-wal", "-shm")


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    """Vectors by (model, text hash). Opens its file on first use."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = Path(path)
        self.model = model
        self.warning: str | None = None  # what went wrong with the cache, said once
        self._db: sqlite3.Connection | None = None
        self._bypassed = False
        self._rebuilt = False

    def get_many(self, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """The cached vectors of these hashes that are sound vectors of `dim` dimensions."""
        wanted = list(dict.fromkeys(hashes))
        nothing: dict[str, np.ndarray] = {}
        found = self._use(lambda db: self._select(db, wanted), nothing)
        sound = {h: v for h, v in found.items() if _sound(v, dim)}
        if len(sound) < len(found):
            self._warn(f"{len(found) - len(sound)} damaged vectors in the embedding cache "
                       f"{self.path} were embedded again")
        return sound

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = [(self.model, h, np.asarray(v, dtype=np.float32).tobytes())
                for h, v in items.items()]

        def insert(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

        self._use(insert, None)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- failures ----------------------------------------------------------------------------
    def _use(self, operation: Callable[[sqlite3.Connection], T], fallback: T) -> T:
        """Run an operation on the database; a damaged file is started afresh (once per run)
        and the operation tried again; any other failure bypasses the cache from then on."""
        while not self._bypassed:
            try:
                return operation(self._connect())
            except sqlite3.Error as exc:
                self.close()
                if _code(exc) in _DAMAGED and not self._rebuilt:
                    self._rebuilt = self._start_afresh(exc)
                    if self._rebuilt:
                        continue
                self._bypass(exc)
            except OSError as exc:  # the cache folder cannot be made
                self._bypass(exc)
        return fallback

    def _start_afresh(self, exc: sqlite3.Error) -> bool:
        try:
            for suffix in _SUFFIXES:
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        except OSError:
            return False
        self._warn(f"the embedding cache {self.path} was damaged ({exc}); started afresh, "
                   "so its texts are embedded again")
        return True

    def _bypass(self, exc: sqlite3.Error | OSError) -> None:
        self._bypassed = True
        if _code(exc) in ("SQLITE_BUSY", "SQLITE_LOCKED"):
            reason = "is locked by another process"
        else:
            reason = f"cannot be used ({exc})"
        self._warn(f"the embedding cache {self.path} {reason}; indexing without it")

    def _warn(self, message: str) -> None:
        if self.warning is None:
            self.warning = message

    # -- SQLite ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT)
            try:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB,"
                    " PRIMARY KEY (model, hash))"
                )
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _select(self, db: sqlite3.Connection, wanted: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                [self.model, *chunk],
            )
            for text_hash, blob in rows:
                if isinstance(blob, bytes) and len(blob) % 4 == 0:
                    found[text_hash] = np.frombuffer(blob, dtype=np.float32)
                else:
                    found[text_hash] = np.zeros(0, dtype=np.float32)  # damaged: not sound
        return found


def _code(exc: BaseException) -> str | None:
    """SQLite's primary result code of an error (SQLITE_BUSY_RECOVERY -> SQLITE_BUSY)."""
    name = getattr(exc, "sqlite_errorname", None)
    if not isinstance(name, str):
        return None
    parts = name.split("_")
    return "_".join(parts[:2])


def _sound(vector: np.ndarray, dim: int) -> bool:
    """Of the model's dimension, finite and of unit length (or all zero), as every encoder
    writes them and as the index accepts them."""
    if vector.shape != (dim,) or not np.isfinite(vector).all():
        return False
    with np.errstate(over="ignore"):  # garbage overflows: then it is not of unit length
        norm = float(np.linalg.norm(vector))
    return abs(norm - 1.0) <= 1e-3 or norm == 0.0
