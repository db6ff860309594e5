"""The index folder on disk: generations, the CURRENT pointer, segments and the writer lock.

    index_dir/
      CURRENT                  name of the live generation ("g000003"), replaced atomically
      writer.lock              held (flock) by the one process that writes
      generations/g000003/     manifest.json, keyword/ (Whoosh), lease (readers flock it)
      segments/                immutable files shared by generations:
        s000003.jsonl          articles and their paragraphs added by one run
        s000003.npy            their vectors, in the same order
        ann-g000003.faiss      an HNSW graph over the vectors live at that generation
      cache/embeddings.sqlite  vectors by (model, paragraph text hash)

A generation is built in `generations/<name>.tmp` and renamed when complete; CURRENT is
switched last. A crash at any point leaves CURRENT at the previous complete generation,
and the next writer deletes the leftovers; a run that fails (a full disk) deletes its own.
Readers never write: they need no more than read access, on a read-only file system too.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from search.backends.local.manifest import FORMAT_VERSION, REBUILD_HINT, Manifest, format_of
from search.backends.oserrors import unwritable
from search.backends.writer_lock import folder_writer_lock
from search.errors import IndexCorrupt, IndexIncompatible, IndexMissing


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


LEASE = "lease"


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file to write that appears at `path` complete and synced when the block ends, so
    that readers see the old content or the new, never a part. If writing fails, the partial
    file is removed and the OSError names `path` (a failed write names no file itself)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        if not exc.filename:
            exc.filename = str(path)
        raise
    _fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see either the old or the new content, never a part."""
    with atomic_file(path) as handle:
        handle.write(data)


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

    def identity(self, name: str) -> str:
        """Generation `name`'s manifest file as the file system knows it (device, inode,
        modification time in ns): a manifest is written once, so another generation of the
        same name has another file; "" when it is gone."""
        try:
            info = (self.generations / name / "manifest.json").stat()
        except OSError:
            return ""
        return f"{name}:{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}"

    def read_manifest(self, name: str) -> Manifest:
        path = self.generations / name / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"{path} is missing; {REBUILD_HINT}") from exc
        except ValueError as exc:  # UnicodeDecodeError included
            raise IndexCorrupt(f"{path} is damaged ({exc}); {REBUILD_HINT}") from exc
        found = format_of(data)
        if found is not None and found != FORMAT_VERSION:
            raise IndexIncompatible(
                f"{self.root} was written in index format {found}, this version reads "
                f"{FORMAT_VERSION}; {REBUILD_HINT}"
            )
        try:
            return Manifest.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"{path} is damaged ({exc!r}); {REBUILD_HINT}") from exc

    def keyword_dir(self, name: str) -> Path:
        return self.generations / name / "keyword"

    @contextmanager
    def lease(self, name: str) -> Iterator[bool]:
        """Hold a shared lock on a generation so that writers do not delete it meanwhile;
        yields whether it holds one.

        The lease file is opened read-only (the writer creates it), so this works on a
        read-only file system and for users who may not write the index folder: flock needs
        neither. A reader that cannot open the file at all reads without a lease; see
        `collect_garbage` for why that is safe. Raises FileNotFoundError if the generation
        is gone.
        """
        fd = self._open_lease(self.generations / name / LEASE)
        if fd is None:
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield True
        finally:
            os.close(fd)

    @staticmethod
    def _open_lease(path: Path) -> int | None:
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except PermissionError:
            return None
        except FileNotFoundError:
            if not path.parent.is_dir():
                raise
        try:  # written before writers made lease files: make one, if this user may
            return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:  # a read-only file system, or no permission to write the folder
            return None

    # -- writing (only under the writer lock) -------------------------------------------------
    def writer_lock(self) -> AbstractContextManager[None]:
        return folder_writer_lock(self.root)

    def next_number(self) -> int:
        """The number after every generation folder's, finished or not."""
        if not self.generations.exists():
            return 1
        existing = [int(p.name[1:7]) for p in self.generations.glob("g[0-9]*") if p.is_dir()]
        return max(existing, default=0) + 1

    @contextmanager
    def writing(self, path: Path) -> Iterator[None]:
        """Turn an OSError while writing `path` (disk full, read-only, permission) into one
        clear IndexUnwritable naming the file."""
        try:
            yield
        except OSError as exc:
            live = None
            with suppress(OSError, IndexCorrupt):
                live = self.current_name()
            raise unwritable(exc, path, self.root, live) from exc

    def new_generation_dir(self, name: str) -> Path:
        """An empty generation folder to build in, with the lease file readers will lock."""
        tmp = self.generations / f"{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "keyword").mkdir(parents=True)
        (tmp / LEASE).touch()
        return tmp

    def link_keyword_files(self, source: str, target_dir: Path) -> None:
        """Share the previous generation's Whoosh files by hard link: Whoosh never rewrites a
        file in place (each commit writes new segment and TOC files), so both can use them."""
        for path in self.keyword_dir(source).iterdir():
            # Not Whoosh's lock file (MAIN_WRITELOCK): each generation has its own.
            if path.is_file() and not path.name.endswith((".lock", "WRITELOCK")):
                os.link(path, target_dir / "keyword" / path.name)

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
        reader holds, and segment files no remaining generation uses. Returns what went.

        The newest `keep` generations stay whatever their leases say, so a reader that could
        not take a lease (see `lease`) is safe while its generation is one of them: it opened
        the live one, and two more publishes must pass before its generation can go. An open
        reader keeps its files open, so even then it reads on; a deletion only waits for it
        to close before the space is free.
        """
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
        try:  # read-write: an exclusive lock on NFS needs it
            fd = os.open(self.generations / name / LEASE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                         0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        else:
            shutil.rmtree(self.generations / name, ignore_errors=True)
            return True
        finally:
            os.close(fd)

    def _used_segment_files(self) -> set[str]:
        used: set[str] = set()
        for path in self.generations.glob("g*/manifest.json"):
            try:  # only two fields are needed: no Manifest
                data = json.loads(path.read_text(encoding="utf-8"))
                segments, ann = set(data["file_segments"].values()), data["ann"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
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
