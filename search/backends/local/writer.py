"""Building the next local generation in `generations/<name>.tmp`.

The previous generation's Whoosh files are shared by hard link (Whoosh never rewrites a file:
each commit writes new segment and TOC files), removals and additions are applied to the
copy, new articles and their vectors go into one new segment, and `publish` writes the
manifest, renames the folder and switches CURRENT.

A write that fails (a full disk, a read-only file system) is one IndexUnwritable naming the
file, and the writer deletes what it wrote: the folder is as it was before the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np

from search.backends.group_table import carried_forward
from search.backends.local.dense import HnswParams, build_hnsw, save_hnsw
from search.backends.local.groups import read_groups, write_groups
from search.backends.local.keyword import KeywordDoc, KeywordIndex
from search.backends.local.manifest import Manifest
from search.backends.local.segments import write_segment
from search.backends.local.store import IndexStore
from search.backends.local.vectors import live_vectors
from search.config import Settings
from search.errors import SearchError
from search.records import Catalog, NewArticle, Progress, generation_name


class LocalWriter:
    """A `GenerationWriter` for the local backend (used under the writer lock)."""

    def __init__(self, store: IndexStore, previous: Manifest | None, number: int,
                 settings: Settings, progress: Progress | None = None) -> None:
        self.store = store
        self.previous = previous
        self.number = number
        self.segment = f"s{number:06d}"
        self.settings = settings
        self._report: Progress = progress or (lambda stage, done, total: None)
        self._published = False
        try:
            with store.writing(store.generations):
                self.tmp_dir = store.new_generation_dir(generation_name(number))
                keyword_dir = self.tmp_dir / "keyword"
                if previous is not None:
                    store.link_keyword_files(previous.name, self.tmp_dir)
                    self._keyword = KeywordIndex.open(keyword_dir)
                else:
                    self._keyword = KeywordIndex.create(keyword_dir)
        except BaseException:
            self._discard()
            raise
        self._articles: list[NewArticle] = []
        self._vector_parts: list[tuple[np.ndarray, np.ndarray]] = []  # (pids, vectors)
        self._removed: list[int] = []
        self._groups: dict[int, int] = {}  # set in this run

    def remove(self, pids: Sequence[int]) -> None:
        if pids:
            with self.store.writing(self._keyword.path):
                self._keyword.remove(pids)
            self._removed.extend(int(pid) for pid in pids)

    def add(self, articles: Iterable[NewArticle]) -> None:
        """Add to the keyword side and commit it there (Whoosh's commit then overlaps with
        the vectors being computed); the articles go into the segment at publish."""
        with self.store.writing(self._keyword.path):
            for article in articles:
                self._keyword.add(KeywordDoc(p.pid, p.lang, article.title, p.text)
                                  for p in article.paragraphs)
                self._articles.append(article)
            self._keyword.commit()

    def add_vectors(self, pids: np.ndarray, vectors: np.ndarray) -> None:
        self._vector_parts.append((np.asarray(pids, dtype=np.int64),
                                   np.asarray(vectors, dtype=np.float32)))

    def set_groups(self, pids: Sequence[int], group_ids: Sequence[int]) -> None:
        self._groups.update(zip((int(p) for p in pids), (int(g) for g in group_ids),
                                strict=True))

    def publish(self, catalog: Catalog) -> None:
        """Commit the keyword side, write the segment, decide on the HNSW graph, write the
        manifest and switch to it."""
        with self.store.writing(self._keyword.path):
            self._keyword.commit()
        self._keyword.close()
        if self._articles:
            vectors = self._vectors_in_segment_order(catalog.dim)
            with self.store.writing(self.store.segments / self.segment):
                write_segment(self.store.segments, self.segment, self._articles, vectors)
        manifest = Manifest(catalog, self._file_segments(catalog),
                            *self._graph_of_previous())
        ann, ann_next_pid = self._ann_for(manifest)
        manifest = Manifest(manifest.catalog, manifest.file_segments, ann, ann_next_pid)
        previous = (read_groups(self.store.generations / self.previous.name)
                    if self.previous is not None else {})
        with self.store.writing(self.tmp_dir):
            write_groups(self.tmp_dir, carried_forward(previous, self._removed, self._groups))
        with self.store.writing(self.tmp_dir):
            self.store.publish(self.tmp_dir, manifest)
        self._published = True

    def close(self) -> None:
        """Release the keyword index; if nothing was published, delete what was written."""
        self._keyword.close()
        if not self._published:
            self._discard()

    def _discard(self) -> None:
        # A failed run (a full disk above all) leaves nothing behind: the space is freed now,
        # and the next run finds the folder as it was. Garbage collection deletes exactly
        # what no live generation uses: this run's folder and files.
        with suppress(OSError, SearchError):
            self.store.collect_garbage()

    def _vectors_in_segment_order(self, dim: int) -> np.ndarray:
        """The added vectors in the order the segment lists the paragraphs."""
        order = np.array([p.pid for a in self._articles for p in a.paragraphs], dtype=np.int64)
        if not self._vector_parts:
            pids, vectors = np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        else:
            pids = np.concatenate([part[0] for part in self._vector_parts])
            vectors = np.concatenate([part[1] for part in self._vector_parts])
        by_pid = np.argsort(pids, kind="stable")
        at = np.minimum(np.searchsorted(pids[by_pid], order), max(len(pids) - 1, 0))
        if len(pids) != len(order) or not np.array_equal(pids[by_pid][at], order):
            raise ValueError(f"{len(order)} paragraphs were added with {len(pids)} vectors "
                             "for other paragraph ids")
        return vectors[by_pid[at]]

    def _file_segments(self, catalog: Catalog) -> dict[str, str]:
        """Each seed file's segment: this run's for the files it added, else the previous."""
        new_paths = {article.path for article in self._articles}
        old = self.previous.file_segments if self.previous else {}
        return {path: self.segment if path in new_paths else old[path] for path in catalog.files}

    def _graph_of_previous(self) -> tuple[str | None, int | None]:
        if self.previous is None:
            return None, None
        return self.previous.ann, self.previous.ann_next_pid

    def _ann_for(self, manifest: Manifest) -> tuple[str | None, int | None]:
        """Keep, build or drop the HNSW graph: built once the index reaches the threshold,
        rebuilt when a quarter of the live vectors are outside it. Keeping it needs only the
        catalog: the graph holds the live paragraphs numbered below its next_pid, and the
        files say how many those are. The vectors are read only to build a graph."""
        catalog = manifest.catalog
        if catalog.paragraphs < self.settings.ann_threshold:
            return None, None
        if manifest.ann and manifest.ann_next_pid is not None:
            inside = sum(len(range(entry.first_pid, min(entry.pids.stop, manifest.ann_next_pid)))
                         for entry in catalog.files.values())
            if inside >= 0.75 * catalog.paragraphs:
                return manifest.ann, manifest.ann_next_pid
        pids, vectors = live_vectors(self.store, manifest)
        self._report("vectors", 0, len(pids))
        params = HnswParams(self.settings.hnsw_m, self.settings.hnsw_ef_construction)
        path = Path(self.store.segments) / f"ann-{manifest.name}.faiss"
        graph = build_hnsw(pids, vectors, params)
        with self.store.writing(path):
            save_hnsw(graph, path)
        self._report("vectors", len(pids), len(pids))
        return path.name, catalog.next_pid
