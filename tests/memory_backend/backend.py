"""The in-memory backend: generations kept per index folder for the life of the process."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from search.backends.base import Backend, GenerationReader, GenerationWriter
from search.backends.group_table import carried_forward
from search.config import Settings
from search.errors import IndexBusy, IndexMissing
from search.records import (
    ArticleRecord,
    Catalog,
    CheckReport,
    NewArticle,
    ParagraphRecord,
    Progress,
)

from .generation import Analyzed, Contents, Generation, MemoryReader

KEEP_NEWEST = 2  # generations garbage collection always keeps, held or not


@dataclass
class _Folder:
    """The shared state of one index folder, whichever backend object reaches it."""

    writing: threading.Lock = field(default_factory=threading.Lock)  # the writer lock
    lock: threading.Lock = field(default_factory=threading.Lock)  # guards the fields below
    generations: dict[str, Generation] = field(default_factory=dict)
    live: str | None = None
    readers: Counter[str] = field(default_factory=Counter)

    def generation(self, name: str) -> Generation:
        with self.lock:
            found = self.generations.get(name)
        if found is None:
            raise IndexMissing(f"no generation {name!r} in this memory index")
        return found

    def publish(self, generation: Generation) -> None:
        with self.lock:
            if generation.name in self.generations:
                raise ValueError(f"generation {generation.name} was already published")
            self.generations[generation.name] = generation
            self.live = generation.name

    def release(self, name: str) -> None:
        with self.lock:
            self.readers[name] -= 1
            if self.readers[name] <= 0:
                del self.readers[name]

    def require_writer(self, action: str) -> None:
        # The protocol asks callers to hold the writer lock; failing loudly catches those
        # that forget, which the local backend's file lock might let pass in one process.
        if not self.writing.locked():
            raise RuntimeError(f"{action} outside writer_lock()")


class MemoryWriter:
    """The next generation as copies of the previous one's mappings, changed in place."""

    def __init__(self, folder: _Folder, number: int, base: Generation | None) -> None:
        self.number = number
        self._folder = folder
        self._lock = threading.Lock()  # add and add_vectors may run in different threads
        self._open = True
        contents = base.contents if base is not None else None
        self._articles: dict[str, ArticleRecord] = dict(contents.articles) if contents else {}
        self._paragraphs: dict[int, ParagraphRecord] = (
            dict(contents.paragraphs) if contents else {})
        self._vectors: dict[int, np.ndarray] = dict(contents.vectors) if contents else {}
        self._analyzed: dict[int, Analyzed] = dict(contents.analyzed) if contents else {}
        self._groups: dict[int, int] = dict(contents.groups) if contents else {}

    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError(f"the writer of generation {self.number} is closed")

    def remove(self, pids: Sequence[int]) -> None:
        with self._lock:
            self._require_open()
            for pid in pids:
                paragraph = self._paragraphs.pop(int(pid))  # KeyError: not in this generation
                self._vectors.pop(paragraph.pid, None)
                self._analyzed.pop(paragraph.pid, None)
                self._groups.pop(paragraph.pid, None)
                article = self._articles.get(paragraph.article_id)
                if article is None or paragraph.pid not in article.paragraph_pids:
                    continue  # a new version of the article was added first
                kept = tuple(p for p in article.paragraph_pids if p != paragraph.pid)
                if kept:
                    self._articles[article.id] = replace(article, paragraph_pids=kept)
                else:
                    del self._articles[article.id]

    def add(self, articles: Iterable[NewArticle]) -> None:
        with self._lock:
            self._require_open()
            for article in articles:
                # An article id already stored is a new version of that article; publish
                # checks that the old version's paragraphs were removed.
                for p in article.paragraphs:
                    if p.pid in self._paragraphs:
                        raise ValueError(f"paragraph id {p.pid} is already stored")
                    self._paragraphs[p.pid] = ParagraphRecord(
                        p.pid, article.id, p.position, p.start, p.end, p.text, p.lang)
                    self._analyzed[p.pid] = Analyzed.of(article.title, p.text, p.lang)
                self._articles[article.id] = article.record()

    def add_vectors(self, pids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(pids, dtype=np.int64).reshape(-1)
        rows = np.array(vectors, dtype=np.float32, ndmin=2)
        if len(rows) != len(ids):
            raise ValueError(f"{len(ids)} paragraph ids for {len(rows)} vectors")
        rows.flags.writeable = False
        with self._lock:
            self._require_open()
            for pid, row in zip(ids.tolist(), rows, strict=True):
                self._vectors[pid] = row

    def set_groups(self, pids: Sequence[int], group_ids: Sequence[int]) -> None:
        with self._lock:
            self._require_open()
            for pid, group in zip(pids, group_ids, strict=True):
                if int(pid) not in self._paragraphs:
                    raise KeyError(int(pid))
                self._groups[int(pid)] = int(group)

    def publish(self, catalog: Catalog) -> None:
        with self._lock:
            self._require_open()
            if catalog.generation != self.number:
                raise ValueError(f"the catalog is of generation {catalog.generation}, "
                                 f"this writer builds {self.number}")
            orphans = set(self._vectors) - set(self._paragraphs)
            missing = set(self._paragraphs) - set(self._vectors)
            if orphans or missing:
                raise ValueError(f"{len(missing)} paragraphs without a vector and "
                                 f"{len(orphans)} vectors without a paragraph")
            if any(row.shape != (catalog.dim,) for row in self._vectors.values()):
                raise ValueError(f"vectors that are not {catalog.dim}-d, as the catalog says")
            self._check_articles()
            groups = carried_forward(self._groups, (), {})
            contents = Contents(self._articles, self._paragraphs, self._vectors, self._analyzed,
                                groups)
            self._folder.publish(Generation(catalog, contents))
            self._open = False

    def _check_articles(self) -> None:
        listed = {pid for a in self._articles.values() for pid in a.paragraph_pids}
        if listed != set(self._paragraphs):
            raise ValueError(f"{len(listed ^ set(self._paragraphs))} paragraphs are not "
                             "listed by their article, or articles list absent paragraphs")
        for paragraph in self._paragraphs.values():
            if paragraph.pid not in self._articles[paragraph.article_id].paragraph_pids:
                raise ValueError(f"paragraph {paragraph.pid} is not listed by its article")

    def close(self) -> None:
        with self._lock:
            self._open = False
            self._articles, self._paragraphs, self._vectors, self._analyzed = {}, {}, {}, {}
            self._groups = {}


class MemoryBackend:
    """The `Backend` protocol in plain Python and numpy, state kept per resolved folder path:
    every backend object made for the same folder in this process sees the same index."""

    _folders: ClassVar[dict[Path, _Folder]] = {}
    _folders_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir).resolve()
        with MemoryBackend._folders_lock:
            self._folder = MemoryBackend._folders.setdefault(self.index_dir, _Folder())

    @classmethod
    def factory(cls, index_dir: Path, options: dict[str, Any],
                settings: Settings | None = None) -> Backend:
        """For `search.backends.register`; the memory backend needs no options or settings."""
        return cls(index_dir)

    def current(self) -> str | None:
        with self._folder.lock:
            return self._folder.live

    def identity(self, name: str) -> str:
        return name

    def catalog(self, name: str) -> Catalog:
        return self._folder.generation(name).catalog

    def open(self, name: str) -> GenerationReader:
        folder = self._folder
        with folder.lock:
            generation = folder.generations.get(name)
            if generation is None:
                raise IndexMissing(f"no generation {name!r} in the memory index {self.index_dir}")
            folder.readers[name] += 1
        return MemoryReader(generation, lambda: folder.release(name))

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        if not self._folder.writing.acquire(blocking=False):
            raise IndexBusy(f"another writer holds the memory index {self.index_dir}")
        try:
            yield
        finally:
            self._folder.writing.release()

    def begin(self, previous: Catalog | None,
              progress: Progress | None = None) -> GenerationWriter:
        # `progress` reports slow steps; nothing here is slow enough to report.
        folder = self._folder
        folder.require_writer("begin()")
        base = folder.generation(previous.name) if previous is not None else None
        with folder.lock:
            number = max((g.catalog.generation for g in folder.generations.values()),
                         default=0) + 1
        return MemoryWriter(folder, number, base)

    def collect_garbage(self) -> list[str]:
        folder = self._folder
        folder.require_writer("collect_garbage()")
        with folder.lock:
            newest = sorted(folder.generations.values(), key=lambda g: g.catalog.generation)
            keep = {g.name for g in newest[-KEEP_NEWEST:]} | set(folder.readers)
            if folder.live is not None:
                keep.add(folder.live)
            removed = sorted(name for name in folder.generations if name not in keep)
            for name in removed:
                del folder.generations[name]
        return removed

    def check(self) -> CheckReport:
        live = self.current()
        if live is None:
            raise IndexMissing(f"nothing was published in the memory index {self.index_dir}")
        return self._folder.generation(live).check(str(self.index_dir))
