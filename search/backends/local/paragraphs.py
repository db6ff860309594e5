"""The live paragraphs of a local generation, kept in arrays; texts are read on demand.

Loading reads every segment line once. Everything about a paragraph but its text stays in
typed arrays (a few MB for 100,000 paragraphs, where records with their texts took ~170 MB);
a text is read from its segment file, one line per article, when a record is asked for.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import numpy as np

from search.backends.local.manifest import REBUILD_HINT, Manifest
from search.backends.local.segments import parse_line, segment_lines
from search.errors import IndexCorrupt
from search.records import (
    ArticleRecord,
    Filters,
    NewArticle,
    ParagraphColumns,
    ParagraphRecord,
)


class SegmentFiles:
    """The open segment files of a reader, read by offset (pread: no shared position, so
    any number of threads may read at once)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self._handles: list[BinaryIO] = []

    def open(self, path: Path, resources: ExitStack) -> BinaryIO:
        try:
            handle = resources.enter_context(open(path, "rb"))
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc
        self.paths.append(path)
        self._handles.append(handle)
        return handle

    def article(self, segment: int, offset: int, length: int, article_id: str) -> NewArticle:
        """The article of one line, checked to be the one the reader loaded."""
        path = self.paths[segment]
        data = os.pread(self._handles[segment].fileno(), length, offset)
        try:
            article = parse_line(path, data, f"at byte {offset}")
        except IndexCorrupt:
            article = None
        if article is None or article.id != article_id:
            raise IndexCorrupt(f"{path} changed while the index was open; {REBUILD_HINT}")
        return article


class _Scan:
    """What one pass over a generation's live articles gathers, as lists to grow."""

    def __init__(self) -> None:
        self.articles: list[ArticleRecord] = []
        self.lines: list[tuple[int, int, int]] = []  # (segment, offset, length) per article
        # Typed arrays, not lists: 100,000 int objects per column would linger in the heap.
        self.pids = array("q")
        self.columns = {name: array("q") for name in
                        ("article", "slot", "position", "start", "end", "lang")}
        self.langs: dict[str, int] = {}
        self.vector_rows: list[tuple[str, np.ndarray]] = []  # live rows of each .npy

    def add(self, segment: int, offset: int, length: int, article: NewArticle) -> None:
        columns = self.columns
        for slot, p in enumerate(article.paragraphs):
            columns["article"].append(len(self.articles))
            columns["slot"].append(slot)
            columns["position"].append(p.position)
            columns["start"].append(p.start)
            columns["end"].append(p.end)
            columns["lang"].append(self.langs.setdefault(p.lang, len(self.langs)))
        record = article.record()
        self.articles.append(record)
        self.lines.append((segment, offset, length))
        self.pids.extend(record.paragraph_pids)


def scan(folder: Path, manifest: Manifest, files: SegmentFiles, resources: ExitStack) -> _Scan:
    """Read every live segment once, keeping its file open for the texts read later."""
    found = _Scan()
    for number, (segment, article_ids) in enumerate(manifest.live_articles().items()):
        path = folder / f"{segment}.jsonl"
        handle = files.open(path, resources)
        row = 0
        rows: list[int] = []
        for offset, length, article in segment_lines(path, handle):
            count = len(article.paragraphs)
            if article.id in article_ids:
                found.add(number, offset, length, article)
                rows.extend(range(row, row + count))
            row += count
        if rows:
            found.vector_rows.append((segment, np.array(rows, dtype=np.int64)))
    return found


class Paragraphs:
    """The live paragraphs of a generation by pid, in index order. Nothing changes after
    loading."""

    def __init__(self, found: _Scan, files: SegmentFiles) -> None:
        self._files = files
        self.articles = found.articles
        self._lines = np.array(found.lines, dtype=np.int64).reshape(-1, 3)
        self.pids = np.array(found.pids, dtype=np.int64)
        self._order = np.argsort(self.pids, kind="stable")
        self._sorted = self.pids[self._order]
        self._article = np.array(found.columns["article"], dtype=np.int32)
        self._slot = np.array(found.columns["slot"], dtype=np.int32)
        self._position = np.array(found.columns["position"], dtype=np.int64)
        self._start = np.array(found.columns["start"], dtype=np.int64)
        self._end = np.array(found.columns["end"], dtype=np.int64)
        self._lang = np.array(found.columns["lang"], dtype=np.int32)
        self._lang_names = tuple(found.langs)
        self._lang_objects = np.array(self._lang_names, dtype=object)
        # As stored (None when absent), for the columns a query counts by.
        self._article_dates = np.array([a.date for a in self.articles], dtype=object)
        self._article_sources = np.array([a.source for a in self.articles], dtype=object)
        self._sources = np.array([a.source or "" for a in self.articles], dtype=object)
        self._dates = np.array([(a.date or "")[:10] for a in self.articles], dtype=object)
        self._article_ids = np.array([a.id for a in self.articles], dtype=object)

    def __len__(self) -> int:
        return len(self.pids)

    def many(self, pids: Iterable[int]) -> list[ParagraphRecord]:
        """The records of ``pids``, in that order, reading each article's line once.
        Raises KeyError for a pid that is not live."""
        cache: dict[int, NewArticle] = {}
        return [self._record(row, cache) for row in self._rows(pids).tolist()]

    def in_order(self) -> Iterator[ParagraphRecord]:
        cache: dict[int, NewArticle] = {}
        for row in range(len(self.pids)):
            yield self._record(row, cache)

    def langs(self, pids: Iterable[int]) -> list[str]:
        """The language of each of ``pids`` (no text is read)."""
        return [self._lang_names[code] for code in self._lang[self._rows(pids)].tolist()]

    def article_ids(self, pids: Iterable[int]) -> list[str]:
        """The article id of each of ``pids`` (no text is read)."""
        return [self.articles[a].id for a in self._article[self._rows(pids)].tolist()]

    def located(self, pids: Iterable[int]) -> list[tuple[str, int, str]]:
        """(article id, position, language) of each of ``pids`` (no text is read)."""
        rows = self._rows(pids)
        return [(self.articles[a].id, position, self._lang_names[code])
                for a, position, code in zip(self._article[rows].tolist(),
                                             self._position[rows].tolist(),
                                             self._lang[rows].tolist(), strict=True)]

    def columns(self, pids: Sequence[int], groups: Callable[[Sequence[int]], list[int]]
                ) -> ParagraphColumns:
        """`GenerationReader.columns` from the arrays, `groups` giving the translation
        groups."""
        rows = self._rows(pids)
        articles = self._article[rows]
        return ParagraphColumns(self._lang_objects[self._lang[rows]].tolist(),
                                self._article_ids[articles].tolist(), groups(pids),
                                self._article_dates[articles].tolist(),
                                self._article_sources[articles].tolist())

    def live(self, pids: Iterable[int]) -> set[int]:
        """Those of ``pids`` that are in this generation."""
        wanted, _, found = self._find(pids)
        return set(wanted[found].tolist())

    def matching(self, filters: Filters) -> np.ndarray:
        """The pids that pass the filters (see `Filters`), in index order."""
        mask = np.ones(len(self.pids), dtype=bool)
        if filters.languages:
            wanted = set(filters.languages)
            codes = [code for code, name in enumerate(self._lang_names) if name in wanted]
            mask &= np.isin(self._lang, codes)
        kept = np.ones(len(self.articles), dtype=bool)
        if filters.article_ids:
            kept &= np.isin(self._article_ids, list(filters.article_ids))
        if filters.sources:
            kept &= np.isin(self._sources, list(filters.sources))
        if filters.date_from:
            kept &= (self._dates >= filters.date_from) & (self._dates != "")
        if filters.date_to:
            kept &= (self._dates <= filters.date_to) & (self._dates != "")
        return self.pids[mask & kept[self._article]]

    def _find(self, pids: Iterable[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pids asked for, their rows, whether each is live)."""
        wanted = np.fromiter(pids, dtype=np.int64)
        if not len(self._sorted):
            return wanted, wanted, np.zeros(len(wanted), dtype=bool)
        at = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
        return wanted, self._order[at], self._sorted[at] == wanted

    def _rows(self, pids: Iterable[int]) -> np.ndarray:
        wanted, rows, found = self._find(pids)
        if not found.all():
            raise KeyError(int(wanted[~found][0]))
        return rows

    def _record(self, row: int, cache: dict[int, NewArticle]) -> ParagraphRecord:
        index = int(self._article[row])
        article = cache.get(index)
        if article is None:
            segment, offset, length = self._lines[index].tolist()
            article = self._files.article(segment, offset, length, self.articles[index].id)
            cache.clear()  # records arrive grouped by article: one line kept at a time
            cache[index] = article
        pid = int(self.pids[row])
        stored = article.paragraphs[int(self._slot[row])]
        if stored.pid != pid:
            raise IndexCorrupt(f"{self._files.paths[int(self._lines[index][0])]} changed "
                               f"while the index was open; {REBUILD_HINT}")
        return ParagraphRecord(
            pid, article.id, int(self._position[row]), int(self._start[row]),
            int(self._end[row]), stored.text, self._lang_names[int(self._lang[row])],
        )
