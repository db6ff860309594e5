"""The local backend: Whoosh for keywords, FAISS for vectors, generations in one folder.

    index_dir/
      CURRENT                  name of the live generation, replaced atomically
      writer.lock              flock held by the one writer
      generations/g000003/     manifest.json, keyword/ (Whoosh files), lease
      segments/                s000003.jsonl + s000003.npy (articles, paragraphs and vectors
                               added by one run; immutable), ann-g000003.faiss (HNSW graph)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from search.backends.local.check import check_index
from search.backends.local.reader import LocalReader
from search.backends.local.store import IndexStore
from search.backends.local.writer import LocalWriter
from search.config import Settings
from search.records import Catalog, CheckReport, Progress


class LocalBackend:
    """A `Backend` over one index folder on this machine."""

    def __init__(self, index_dir: Path, settings: Settings | None = None) -> None:
        self.store = IndexStore(Path(index_dir))
        self.settings = settings or Settings()

    def current(self) -> str | None:
        return self.store.current_name()

    def catalog(self, name: str) -> Catalog:
        return self.store.read_manifest(name).catalog

    def identity(self, name: str) -> str:
        return self.store.identity(name)

    def open(self, name: str) -> LocalReader:
        return LocalReader.load(self.store, name, self.settings.hnsw_ef_search)

    def writer_lock(self) -> AbstractContextManager[None]:
        return self.store.writer_lock()

    def begin(self, previous: Catalog | None, progress: Progress | None = None) -> LocalWriter:
        manifest = self.store.read_manifest(previous.name) if previous is not None else None
        number = previous.generation + 1 if previous is not None else self.store.next_number()
        return LocalWriter(self.store, manifest, number, self.settings, progress)

    def collect_garbage(self) -> list[str]:
        return self.store.collect_garbage()

    def check(self) -> CheckReport:
        return check_index(self.store)
