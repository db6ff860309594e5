"""One generation of the index, opened for reading: metadata, keyword index, vectors.

A snapshot never changes once loaded; a newer generation is a new snapshot. While it is
open it holds a lease on its generation so that writers do not delete its files.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import faiss
import numpy as np

from .dense import DenseIndex, graph_mismatches, load_hnsw
from .errors import IndexCorrupt
from .keyword import KeywordIndex
from .query import Filters
from .store import REBUILD_HINT, IndexStore, Manifest


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


class Snapshot:
    """Everything needed to answer queries against one generation."""

    def __init__(self, manifest: Manifest, articles: dict[str, ArticleRecord],
                 paragraphs: dict[int, ParagraphRecord], keyword: KeywordIndex,
                 dense: DenseIndex, resources: ExitStack) -> None:
        self.manifest = manifest
        self.articles = articles
        self.paragraphs = paragraphs
        self.keyword = keyword
        self.dense = dense
        self._resources = resources
        self._pids = np.fromiter(paragraphs, dtype=np.int64, count=len(paragraphs))
        records = list(paragraphs.values())
        self._langs = np.array([p.lang for p in records], dtype=object)
        self._article_ids = np.array([p.article_id for p in records], dtype=object)
        owner = [articles[p.article_id] for p in records]
        self._sources = np.array([a.source or "" for a in owner], dtype=object)
        self._dates = np.array([a.date or "" for a in owner], dtype=object)

    @classmethod
    def load(cls, store: IndexStore, name: str) -> Snapshot:
        resources = ExitStack()
        try:
            resources.enter_context(store.lease(name))
            manifest = store.read_manifest(name)
            articles, paragraphs = cls._read_metadata(store, manifest)
            keyword = KeywordIndex.open(store.keyword_dir(name))
            resources.callback(keyword.close)
            dense = cls._load_dense(store, manifest)
        except FileNotFoundError as exc:
            resources.close()
            raise IndexCorrupt(f"{store.root}: {exc.filename} is missing; {REBUILD_HINT}") from exc
        except BaseException:
            resources.close()
            raise
        return cls(manifest, articles, paragraphs, keyword, dense, resources)

    @staticmethod
    def _read_metadata(store: IndexStore, manifest: Manifest):
        articles: dict[str, ArticleRecord] = {}
        paragraphs: dict[int, ParagraphRecord] = {}
        for _segment, _row, record in live_records(store, manifest):
            art = record["article"]
            pids = []
            langs: dict[str, int] = {}
            for p in record["paragraphs"]:
                paragraphs[p["pid"]] = ParagraphRecord(
                    p["pid"], art["id"], p["position"], p["start"], p["end"], p["text"], p["lang"]
                )
                pids.append(p["pid"])
                langs[p["lang"]] = langs.get(p["lang"], 0) + len(p["text"])
            lang = art.get("lang") or max(langs, key=langs.__getitem__, default="und")
            articles[art["id"]] = ArticleRecord(
                art["id"], art["path"], art["title"], art.get("date"), art.get("place"),
                art.get("source"), art.get("url"), lang, tuple(pids),
            )
        return articles, paragraphs

    @staticmethod
    def _load_dense(store: IndexStore, manifest: Manifest) -> DenseIndex:
        pids, vectors = live_vectors(store, manifest)
        settings = manifest.settings
        if manifest.ann is None:
            return DenseIndex(manifest.dim, pids, vectors)
        hnsw = load_hnsw(store.segments / manifest.ann)
        if graph_mismatches(hnsw, pids, vectors):  # bytes garbled that FAISS's checks pass
            raise IndexCorrupt(
                f"the vector graph {store.segments / manifest.ann} is damaged; {REBUILD_HINT}")
        covered = faiss.vector_to_array(hnsw.id_map)
        outside = ~np.isin(pids, covered)
        excluded = np.setdiff1d(covered, pids)
        return DenseIndex(
            manifest.dim, pids[outside], vectors[outside], hnsw, excluded,
            ef_search=settings.get("hnsw_ef_search", 384),
        )

    def allowed_pids(self, filters: Filters) -> np.ndarray | None:
        """The paragraph ids that pass the filters, or None when nothing is filtered."""
        if filters.is_empty():
            return None
        mask = np.ones(len(self._pids), dtype=bool)
        if filters.languages:
            mask &= np.isin(self._langs, list(filters.languages))
        if filters.article_ids:
            mask &= np.isin(self._article_ids, list(filters.article_ids))
        if filters.sources:
            mask &= np.isin(self._sources, list(filters.sources))
        if filters.date_from:
            mask &= self._dates >= filters.date_from
        if filters.date_to:
            mask &= (self._dates <= filters.date_to) & (self._dates != "")
        return self._pids[mask]

    def close(self) -> None:
        self._resources.close()
