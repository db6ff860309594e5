"""One generation of the index, opened for reading: metadata, keyword index, vectors.

A snapshot never changes once loaded; a newer generation is a new snapshot. While it is
open it holds a lease on its generation so that writers do not delete its files, and its
segment files stay open: paragraph texts are read from them when a hit or an article page
needs them, while everything else about a paragraph is kept in arrays.
"""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from search.backends.local.dense import DenseIndex, GraphVectors, load_hnsw
from search.backends.local.keyword import KeywordIndex
from search.backends.local.store import REBUILD_HINT, IndexStore, Manifest, segment_lines
from search.errors import IndexCorrupt
from search.ranking.query import Filters

# Vectors are read, checked against the graph and copied this many file rows at a time
# (8 MB at 512 dimensions), so that loading never holds a second copy of all of them.
CHUNK_ROWS = 4096


@dataclass(frozen=True)
class ParagraphRecord:
    pid: int
    article_id: str
    position: int
    start: int
    end: int
    text: str
    lang: str


@dataclass(frozen=True)
class ArticleRecord:
    id: str
    path: str
    title: str
    date: str | None
    place: str | None
    source: str | None
    url: str | None
    lang: str
    paragraph_pids: tuple[int, ...]


def _live_articles(manifest: Manifest) -> dict[str, set[str]]:
    live: dict[str, set[str]] = {segment: set() for segment in manifest.segments}
    for entry in manifest.files.values():
        live.setdefault(entry.segment, set()).update(entry.articles)
    return live


def live_records(store: IndexStore, manifest: Manifest):
    """Yield (segment, row of its first paragraph, article record dict) for live articles."""
    for segment, article_ids in _live_articles(manifest).items():
        row = 0
        for record in store.read_segment(segment):
            if record["article"]["id"] in article_ids:
                yield segment, row, record
            row += len(record["paragraphs"])


def live_vectors(store: IndexStore, manifest: Manifest) -> tuple[np.ndarray, np.ndarray]:
    """Paragraph ids and vectors of every live paragraph of a generation."""
    pids: list[int] = []
    parts: list[np.ndarray] = []
    vectors_of: dict[str, np.ndarray] = {}
    for segment, row, record in live_records(store, manifest):
        if segment not in vectors_of:
            vectors_of[segment] = store.read_vectors(segment, manifest.dim)
        count = len(record["paragraphs"])
        pids.extend(p["pid"] for p in record["paragraphs"])
        parts.append(np.asarray(vectors_of[segment][row : row + count]))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, manifest.dim), dtype=np.float32)
    vectors = np.concatenate(parts)
    if len(vectors) != len(pids):
        raise IndexCorrupt(f"{store.root}: vectors and paragraphs disagree; {REBUILD_HINT}")
    if not unit_rows(vectors).all():  # bytes garbled inside a file whose header is intact
        raise IndexCorrupt(f"{store.root}: the vector files are damaged; {REBUILD_HINT}")
    return np.array(pids, dtype=np.int64), vectors


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Which rows are finite and of length 1 (or all zero), as every encoder writes them."""
    with np.errstate(over="ignore", invalid="ignore"):  # garbage overflows: it is not unit
        norms = np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1)
        return (np.abs(norms - 1.0) <= 1e-3) | (norms == 0.0)


class _SegmentFiles:
    """The open segment files of a snapshot, read by offset (pread: no shared position, so
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

    def record(self, segment: int, offset: int, length: int, article_id: str) -> dict:
        """The article record of one line, checked to be the one the snapshot loaded."""
        path = self.paths[segment]
        data = os.pread(self._handles[segment].fileno(), length, offset)
        try:
            record = json.loads(data)
            same = record["article"]["id"] == article_id
        except (ValueError, KeyError, TypeError):
            same = False
        if not same:
            raise IndexCorrupt(f"{path} changed while the index was open; {REBUILD_HINT}")
        return record


class _Scan:
    """What one pass over a generation's live records gathers, as lists to grow."""

    def __init__(self) -> None:
        self.articles: list[ArticleRecord] = []
        self.lines: list[tuple[int, int, int]] = []  # (segment, offset, length) per article
        # Typed arrays, not lists: 100,000 int objects per column would linger in the heap.
        self.pids = array("q")
        self.columns = {name: array("q") for name in
                        ("article", "slot", "position", "start", "end", "lang")}
        self.langs: dict[str, int] = {}
        self.vector_rows: list[tuple[str, np.ndarray]] = []  # live rows of each .npy

    def add(self, segment: int, offset: int, length: int, record: dict) -> None:
        art = record["article"]
        pids = []
        lang_chars: dict[str, int] = {}
        columns = self.columns
        for slot, p in enumerate(record["paragraphs"]):
            pids.append(p["pid"])
            columns["article"].append(len(self.articles))
            columns["slot"].append(slot)
            columns["position"].append(p["position"])
            columns["start"].append(p["start"])
            columns["end"].append(p["end"])
            columns["lang"].append(self.langs.setdefault(p["lang"], len(self.langs)))
            lang_chars[p["lang"]] = lang_chars.get(p["lang"], 0) + len(p["text"])
        lang = art.get("lang") or max(lang_chars, key=lang_chars.__getitem__, default="und")
        self.articles.append(ArticleRecord(
            art["id"], art["path"], art["title"], art.get("date"), art.get("place"),
            art.get("source"), art.get("url"), lang, tuple(pids),
        ))
        self.lines.append((segment, offset, length))
        self.pids.extend(pids)


def _scan(store: IndexStore, manifest: Manifest, files: _SegmentFiles,
          resources: ExitStack) -> _Scan:
    """Read every segment once, keeping its file open for the texts read later."""
    scan = _Scan()
    for number, (segment, article_ids) in enumerate(_live_articles(manifest).items()):
        path = store.segments / f"{segment}.jsonl"
        handle = files.open(path, resources)
        row = 0
        rows: list[int] = []
        for offset, length, record in segment_lines(path, handle):
            count = len(record["paragraphs"])
            if record["article"]["id"] in article_ids:
                scan.add(number, offset, length, record)
                rows.extend(range(row, row + count))
            row += count
        if rows:
            scan.vector_rows.append((segment, np.array(rows, dtype=np.int64)))
    return scan


class Paragraphs(Mapping[int, ParagraphRecord]):
    """The live paragraphs of a generation by pid, in index order.

    Everything but the text is kept in arrays (a few MB for 100,000 paragraphs, where the
    records with their texts took ~170 MB); a record's text is read from its segment file,
    one line per article, when the record is asked for. Nothing here changes after loading.
    """

    def __init__(self, scan: _Scan, files: _SegmentFiles) -> None:
        self._files = files
        self.articles = scan.articles
        self._lines = np.array(scan.lines, dtype=np.int64).reshape(-1, 3)
        self.pids = np.array(scan.pids, dtype=np.int64)
        self._order = np.argsort(self.pids, kind="stable")
        self._sorted = self.pids[self._order]
        self._article = np.array(scan.columns["article"], dtype=np.int32)
        self._slot = np.array(scan.columns["slot"], dtype=np.int32)
        self._position = np.array(scan.columns["position"], dtype=np.int64)
        self._start = np.array(scan.columns["start"], dtype=np.int64)
        self._end = np.array(scan.columns["end"], dtype=np.int64)
        self._lang = np.array(scan.columns["lang"], dtype=np.int32)
        self._lang_names = tuple(scan.langs)
        self._sources = np.array([a.source or "" for a in self.articles], dtype=object)
        self._dates = np.array([a.date or "" for a in self.articles], dtype=object)
        self._article_ids = np.array([a.id for a in self.articles], dtype=object)

    # -- the mapping -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pids)

    def __iter__(self) -> Iterator[int]:
        return iter(self.pids.tolist())

    def __contains__(self, pid: object) -> bool:
        return isinstance(pid, int | np.integer) and bool(self._find([int(pid)])[2].all())

    def __getitem__(self, pid: int) -> ParagraphRecord:
        return self.many([pid])[0]

    def values(self) -> ValuesView[ParagraphRecord]:
        return _Values(self)

    def items(self) -> ItemsView[int, ParagraphRecord]:
        return _Items(self)

    # -- lookups ------------------------------------------------------------------------------
    def many(self, pids: Iterable[int]) -> list[ParagraphRecord]:
        """The records of ``pids``, in that order, reading each article's line once.
        Raises KeyError for a pid that is not live."""
        cache: dict[int, dict] = {}
        return [self._record(row, cache) for row in self._rows(pids)]

    def langs(self, pids: Iterable[int]) -> list[str]:
        """The language of each of ``pids`` (no text is read)."""
        return [self._lang_names[code] for code in self._lang[self._rows(pids)].tolist()]

    def article_ids(self, pids: Iterable[int]) -> list[str]:
        """The article id of each of ``pids`` (no text is read)."""
        return [self.articles[a].id for a in self._article[self._rows(pids)].tolist()]

    def matching(self, filters: Filters) -> np.ndarray:
        """The pids that pass the filters, in index order."""
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
            kept &= self._dates >= filters.date_from
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

    def _record(self, row: int, cache: dict[int, dict]) -> ParagraphRecord:
        article = int(self._article[row])
        record = cache.get(article)
        if record is None:
            segment, offset, length = self._lines[article].tolist()
            record = self._files.record(segment, offset, length, self.articles[article].id)
            cache.clear()  # records arrive grouped by article: one line kept at a time
            cache[article] = record
        pid = int(self.pids[row])
        stored = record["paragraphs"][int(self._slot[row])]
        if stored["pid"] != pid:
            raise IndexCorrupt(f"{self._files.paths[int(self._lines[article][0])]} changed "
                               f"while the index was open; {REBUILD_HINT}")
        return ParagraphRecord(
            pid, self.articles[article].id, int(self._position[row]), int(self._start[row]),
            int(self._end[row]), stored["text"], self._lang_names[int(self._lang[row])],
        )

    def _in_order(self) -> Iterator[ParagraphRecord]:
        cache: dict[int, dict] = {}
        for row in range(len(self.pids)):
            yield self._record(row, cache)


class _Values(ValuesView):
    def __iter__(self) -> Iterator[ParagraphRecord]:
        return self._mapping._in_order()


class _Items(ItemsView):
    def __iter__(self) -> Iterator[tuple[int, ParagraphRecord]]:
        return ((p.pid, p) for p in self._mapping._in_order())


def _spans(rows: np.ndarray, limit: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Split ascending row numbers into file spans of at most ``limit`` rows:
    (first row of the span, end of the span, the rows in it)."""
    start = 0
    while start < len(rows):
        first = int(rows[start])
        stop = int(np.searchsorted(rows, first + limit, side="left"))
        yield first, int(rows[stop - 1]) + 1, rows[start:stop]
        start = stop


def _live_vector_chunks(store: IndexStore, manifest: Manifest,
                        vector_rows: list[tuple[str, np.ndarray]]) -> Iterator[np.ndarray]:
    """The live vectors in index order, a span of the files at a time. Spans are read with
    plain reads, not through the memory map, whose pages would stay resident until the end."""
    files = []
    for segment, rows in vector_rows:
        mapped = store.read_vectors(segment, manifest.dim)  # checks the header and shape
        if rows[-1] >= len(mapped):
            raise IndexCorrupt(f"{store.root}: vectors and paragraphs disagree; {REBUILD_HINT}")
        files.append((mapped, rows))
    row_bytes = manifest.dim * 4
    for mapped, rows in files:
        if not mapped.flags.c_contiguous:  # not written by IndexStore: read it the slow way
            yield from (np.array(mapped[wanted]) for _, _, wanted in _spans(rows, CHUNK_ROWS))
            continue
        with open(mapped.filename, "rb") as handle:
            for first, end, wanted in _spans(rows, CHUNK_ROWS):
                size = (end - first) * row_bytes
                data = os.pread(handle.fileno(), size, mapped.offset + first * row_bytes)
                if len(data) != size:  # shorter than its header says, since it was mapped
                    raise IndexCorrupt(f"{mapped.filename} cannot be read; {REBUILD_HINT}")
                span = np.frombuffer(data, dtype=np.float32).reshape(-1, manifest.dim)
                yield span[wanted - first]


def _load_dense(store: IndexStore, manifest: Manifest, scan: _Scan,
                pids: np.ndarray) -> DenseIndex:
    """The dense side: the HNSW graph, if any, checked against the live vectors, and the live
    vectors it lacks, searched exactly."""
    graph = None
    if manifest.ann is not None:
        path = store.segments / manifest.ann
        graph = GraphVectors(load_hnsw(path))
        damaged = IndexCorrupt(f"the vector graph {path} is damaged; {REBUILD_HINT}")
        if graph.dim != manifest.dim:
            raise damaged
    outside = ~graph.covers(pids) if graph is not None else np.ones(len(pids), dtype=bool)
    exact = np.empty((int(outside.sum()), manifest.dim), dtype=np.float32)
    done = filled = 0
    for vectors in _live_vector_chunks(store, manifest, scan.vector_rows):
        if not unit_rows(vectors).all():  # bytes garbled inside a file whose header is intact
            raise IndexCorrupt(f"{store.root}: the vector files are damaged; {REBUILD_HINT}")
        chunk = slice(done, done + len(vectors))
        if graph is not None and graph.mismatches(pids[chunk], vectors):
            raise damaged  # bytes garbled that FAISS's checks pass
        keep = outside[chunk]
        exact[filled : filled + int(keep.sum())] = vectors[keep]
        filled += int(keep.sum())
        done += len(vectors)
    if graph is None:
        return DenseIndex(manifest.dim, pids, exact)
    return DenseIndex(
        manifest.dim, pids[outside], exact, graph.index, np.setdiff1d(graph.ids, pids))


class Snapshot:
    """Everything needed to answer queries against one generation."""

    def __init__(self, manifest: Manifest, paragraphs: Paragraphs, keyword: KeywordIndex,
                 dense: DenseIndex, resources: ExitStack) -> None:
        self.manifest = manifest
        self.articles = {article.id: article for article in paragraphs.articles}
        self.paragraphs = paragraphs
        self.keyword = keyword
        self.dense = dense
        self._resources = resources

    @classmethod
    def load(cls, store: IndexStore, name: str) -> Snapshot:
        resources = ExitStack()
        try:
            resources.enter_context(store.lease(name))
            manifest = store.read_manifest(name)
            files = _SegmentFiles()
            scan = _scan(store, manifest, files, resources)
            keyword = KeywordIndex.open(store.keyword_dir(name))
            resources.callback(keyword.close)
            paragraphs = Paragraphs(scan, files)
            dense = _load_dense(store, manifest, scan, paragraphs.pids)
        except FileNotFoundError as exc:
            resources.close()
            raise IndexCorrupt(f"{store.root}: {exc.filename} is missing; {REBUILD_HINT}") from exc
        except BaseException:
            resources.close()
            raise
        return cls(manifest, paragraphs, keyword, dense, resources)

    def allowed_pids(self, filters: Filters) -> np.ndarray | None:
        """The paragraph ids that pass the filters, or None when nothing is filtered."""
        if filters.is_empty():
            return None
        return self.paragraphs.matching(filters)

    def close(self) -> None:
        self._resources.close()
