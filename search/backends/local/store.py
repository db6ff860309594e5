"""The index folder on disk: generations, the CURRENT pointer, segments and the writer lock.

    index_dir/
      CURRENT                  name of the live generation ("g000003"), replaced atomically
      writer.lock              held (flock) by the one process that writes
      generations/g000003/     manifest.json, keyword/ (Whoosh), lease (readers hold flock)
      segments/                immutable files shared by generations:
        s000003.jsonl          articles and their paragraphs added by one run
        s000003.npy            their vectors, in the same order
        ann-g000003.faiss      an HNSW graph over the vectors live at that generation
      cache/embeddings.sqlite  vectors by (model, paragraph text hash)

A generation is built in `generations/<name>.tmp` and renamed when complete; CURRENT is
switched last. A crash at any point leaves CURRENT at the previous complete generation,
and the next writer deletes the leftovers.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np

from search.errors import IndexBusy, IndexCorrupt, IndexMissing

FORMAT_VERSION = 1
REBUILD_HINT = "run `search index --rebuild` to rebuild it from seeds/"


@dataclass(frozen=True)
class FileEntry:
    """A seed file as indexed: its content hash, the segment holding it, its article ids, and
    its paragraphs: how many, in which languages, and the first of their consecutive ids.

    Indexes written before the paragraph counts were kept load with first_pid None; the
    indexer counts those files once from their segments (see `counted`)."""

    hash: str
    segment: str
    articles: tuple[str, ...]
    paragraphs: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    first_pid: int | None = None

    @property
    def counted(self) -> bool:
        return self.first_pid is not None

    @property
    def pids(self) -> range:
        """The ids of a counted file's paragraphs: one run numbers them all, in a row."""
        return range(self.first_pid, self.first_pid + self.paragraphs)


@dataclass(frozen=True)
class Manifest:
    generation: int
    model: str
    dim: int
    settings: dict
    next_pid: int
    created: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    segments: tuple[str, ...] = ()
    ann: str | None = None  # file name of the HNSW graph in segments/, if any
    # The graph holds every live paragraph whose id is below this (next_pid when it was built:
    # a paragraph never comes back once removed). None: not recorded (an older index).
    ann_next_pid: int | None = None
    articles: int = 0
    paragraphs: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    @property
    def name(self) -> str:
        return generation_name(self.generation)

    def to_json(self) -> str:
        # Compact (json's C encoder serves only calls without indent) and without asdict's
        # deep copy: the manifest lists every article id (10,000 at 100,000 paragraphs).
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["files"] = {path: vars(entry) for path, entry in self.files.items()}
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["files"] = {
            path: FileEntry(**{**entry, "articles": tuple(entry["articles"])})
            for path, entry in data["files"].items()
        }
        data["segments"] = tuple(data["segments"])
        return cls(**data)


def generation_name(number: int) -> str:
    return f"g{number:06d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see either the old or the new content, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def segment_lines(path: Path, handle: BinaryIO) -> Iterator[tuple[int, int, dict]]:
    """(byte offset, byte length, record) of each line of an open segment file; damage is
    reported as IndexCorrupt naming the file (and the line)."""
    offset = 0
    try:
        for number, line in enumerate(handle, start=1):
            text = line.decode("utf-8")
            try:
                record = json.loads(text)
            except ValueError as exc:
                raise IndexCorrupt(f"{path} line {number} is damaged; {REBUILD_HINT}") from exc
            yield offset, len(line), record
            offset += len(line)
    except UnicodeDecodeError as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc


class IndexStore:
    """Paths and file operations of one index folder. Creates nothing until asked to."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.generations = self.root / "generations"
        self.segments = self.root / "segments"

    # -- reading ---------------------------------------------------------------------------
    def current_name(self) -> str | None:
        try:
            return (self.root / "CURRENT").read_text(encoding="ascii").strip() or None
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(
                f"{self.root}/CURRENT cannot be read ({exc}); {REBUILD_HINT}"
            ) from exc

    def require_current(self) -> str:
        name = self.current_name()
        if name is None:
            raise IndexMissing(
                f"no index in {self.root}: run `search index` first (or pass --index DIR)"
            )
        return name

    def read_manifest(self, name: str) -> Manifest:
        path = self.generations / name / "manifest.json"
        try:
            manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"{path} is missing; {REBUILD_HINT}") from exc
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"{path} is damaged ({exc}); {REBUILD_HINT}") from exc
        if manifest.format != FORMAT_VERSION:
            raise IndexCorrupt(
                f"{self.root} was written in index format {manifest.format}, this version "
                f"reads {FORMAT_VERSION}; {REBUILD_HINT}"
            )
        return manifest

    def keyword_dir(self, name: str) -> Path:
        return self.generations / name / "keyword"

    def read_segment(self, segment: str) -> Iterator[dict]:
        """The article records of a segment, each with its 'paragraphs' list."""
        path = self.segments / f"{segment}.jsonl"
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the last record
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc
        with handle:
            for _offset, _length, record in segment_lines(path, handle):
                yield record

    def read_vectors(self, segment: str, dim: int) -> np.ndarray:
        path = self.segments / f"{segment}.npy"
        try:
            vectors = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc
        if vectors.ndim != 2 or vectors.shape[1] != dim or vectors.dtype != np.float32:
            raise IndexCorrupt(f"{path} holds vectors of the wrong shape; {REBUILD_HINT}")
        return vectors

    @contextmanager
    def lease(self, name: str) -> Iterator[None]:
        """Hold a shared lock on a generation so that writers do not delete it meanwhile."""
        handle = open(self.generations / name / "lease", "a+b")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_SH)
            yield
        finally:
            handle.close()

    # -- writing (only under the writer lock) -------------------------------------------------
    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "writer.lock"
        handle = open(path, "a+")  # noqa: SIM115
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise IndexBusy(
                    f"{self.root} is being updated by {holder}; wait for it to finish"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"process {os.getpid()}")
            handle.flush()
            yield
        finally:
            handle.close()

    def new_generation_dir(self, name: str) -> Path:
        tmp = self.generations / f"{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "keyword").mkdir(parents=True)
        return tmp

    def link_keyword_files(self, source: str, target_dir: Path) -> None:
        """Share the previous generation's Whoosh files by hard link: Whoosh never rewrites a
        file in place (each commit writes new segment and TOC files), so both can use them."""
        for path in self.keyword_dir(source).iterdir():
            if path.is_file() and not path.name.endswith(".lock") and path.name != "WRITELOCK":
                os.link(path, target_dir / "keyword" / path.name)

    def write_segment(self, segment: str, records: list[dict], vectors: np.ndarray) -> None:
        self.segments.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        write_atomic(self.segments / f"{segment}.jsonl", lines.encode("utf-8"))
        tmp = self.segments / f"{segment}.npy.tmp"
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.segments / f"{segment}.npy")

    def publish(self, tmp_dir: Path, manifest: Manifest) -> None:
        """Complete a generation and make it the live one."""
        write_atomic(tmp_dir / "manifest.json", manifest.to_json().encode("utf-8"))
        for path in (tmp_dir / "keyword").iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        final = self.generations / manifest.name
        os.rename(tmp_dir, final)
        _fsync_dir(self.generations)
        write_atomic(self.root / "CURRENT", manifest.name.encode("ascii"))

    def collect_garbage(self, keep: int = 2) -> list[str]:
        """Delete unfinished generations, generations older than the newest `keep` that no
        reader holds, and segment files no remaining generation uses. Returns what went."""
        removed: list[str] = []
        if not self.generations.exists():
            return removed
        current = self.current_name()
        names = sorted(p.name for p in self.generations.iterdir() if p.is_dir())
        for name in names:
            # Newer than CURRENT: renamed but never switched to (a crash in between), so no
            # reader has it, and the next run needs its name.
            if name.endswith(".tmp") or current is None or name > current:
                shutil.rmtree(self.generations / name, ignore_errors=True)
                removed.append(name)
        finished = [n for n in names if n not in removed]
        for name in finished[:-keep] if keep else finished:
            if name != current and self._try_remove_generation(name):
                removed.append(name)
        removed.extend(self._remove_unused_segments())
        return removed

    def _try_remove_generation(self, name: str) -> bool:
        lease = self.generations / name / "lease"
        try:
            handle = open(lease, "a+b")  # noqa: SIM115
        except OSError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            shutil.rmtree(self.generations / name, ignore_errors=True)
            return True

    def _used_segment_files(self) -> set[str]:
        used: set[str] = set()
        for path in self.generations.glob("g*/manifest.json"):
            try:  # only two fields are needed: no Manifest
                data = json.loads(path.read_text(encoding="utf-8"))
                segments, ann = list(data["segments"]), data["ann"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            used.update(f"{s}.jsonl" for s in segments)
            used.update(f"{s}.npy" for s in segments)
            if ann:
                used.add(ann)
        return used

    def _remove_unused_segments(self) -> list[str]:
        if not self.segments.exists():
            return []
        used = self._used_segment_files()
        removed = []
        for path in self.segments.iterdir():
            if path.name not in used:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        return removed


class EmbeddingCache:
    """Vectors by (model, text hash), so that rebuilds and edits embed only what is new.

    A cache only: if its file is damaged it is discarded and rebuilt."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = Path(path)
        self.model = model
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError:
                self.path.unlink(missing_ok=True)
                self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB,"
            " PRIMARY KEY (model, hash))"
        )
        return db

    def get_many(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        db = self._connect()
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                [self.model, *chunk],
            )
            for text_hash, blob in rows:
                found[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        db = self._connect()
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [
                    (self.model, h, np.asarray(v, dtype=np.float32).tobytes())
                    for h, v in items.items()
                ],
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
