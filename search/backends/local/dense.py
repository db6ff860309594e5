"""FAISS vector index keyed by paragraph id: exact inner product, plus an optional HNSW part.

The HNSW graph is expensive to build, so it is built once over many vectors, saved, and
shared by later generations; vectors added after it (the "delta") are searched exactly
beside it, and vectors removed since are excluded with an id selector. Vectors are
L2-normalized, so inner product is cosine similarity.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import faiss
import numpy as np

from search.backends.local.store import atomic_file
from search.config import Settings
from search.errors import IndexCorrupt
from search.records import Candidate

DEFAULT_EF_SEARCH = Settings.hnsw_ef_search  # see there


@dataclass(frozen=True)
class HnswParams:
    """How the graph is built (how it is searched is DenseIndex.search's ef_search)."""

    m: int = 32
    ef_construction: int = 200


def build_hnsw(pids: np.ndarray, vectors: np.ndarray, params: HnswParams) -> faiss.IndexIDMap2:
    """An HNSW index over vectors, keyed by pids (inner-product metric)."""
    graph = faiss.IndexHNSWFlat(vectors.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = params.ef_construction
    index = faiss.IndexIDMap2(graph)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), pids.astype(np.int64))
    return index


def save_hnsw(index: faiss.Index, path: Path) -> None:
    """Write the graph atomically. Through Python's file, so that a full disk is the OSError
    it is (FAISS's own writer reports it as a RuntimeError)."""
    with atomic_file(path) as handle:
        writer = faiss.PyCallbackIOWriter(handle.write)  # type: ignore[attr-defined]
        faiss.write_index(index, writer)


def load_hnsw(path: Path) -> faiss.IndexIDMap2:
    if path.exists() and not os.access(path, os.R_OK):  # not damage: a rebuild would not help
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexCorrupt(
            f"the vector graph {path} cannot be read; run `search index --rebuild`"
        ) from exc
    # Another kind of FAISS index would fail later, mid-query, on the attributes used here.
    if not (isinstance(index, faiss.IndexIDMap2)
            and isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat)):
        raise IndexCorrupt(
            f"the vector graph {path} is not an id-mapped HNSW graph; run `search index --rebuild`"
        )
    return index


class GraphVectors:
    """The ids and vector copies held by a graph from build_hnsw, to compare with the live
    vectors a chunk at a time (so that a caller never holds all of them at once)."""

    def __init__(self, index: faiss.IndexIDMap2) -> None:
        self.index = index  # owns the storage that `_stored` views
        self.ids = faiss.vector_to_array(index.id_map)
        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]
        # downcast_index returns the index's own class, which the stubs cannot know.
        graph = cast(faiss.IndexHNSWFlat, faiss.downcast_index(index.index))
        storage = cast(faiss.IndexFlat, faiss.downcast_index(graph.storage))
        self.dim = int(storage.d)
        self.count = int(storage.ntotal)
        self._stored = np.zeros((0, self.dim), dtype=np.float32)
        if self.count:
            stored = faiss.rev_swig_ptr(storage.get_xb(), self.count * self.dim)
            self._stored = stored.reshape(self.count, self.dim)

    def covers(self, pids: np.ndarray) -> np.ndarray:
        """Which of ``pids`` the graph holds."""
        return np.isin(pids, self.ids)

    def mismatches(self, pids: np.ndarray, vectors: np.ndarray) -> int:
        """How many graph entries for ``pids`` hold a vector other than theirs in ``vectors``
        (every entry, should an id be there twice). Pids the graph does not hold are ignored;
        vectors of another dimension than the graph's make every entry count."""
        if vectors.shape[1] != self.dim:
            return self.count
        first = np.searchsorted(self._sorted, pids, side="left")
        counts = np.searchsorted(self._sorted, pids, side="right") - first
        total = int(counts.sum())
        starts = np.repeat(first, counts)
        nth = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        entries = self._order[starts + nth]
        live_rows = np.repeat(np.arange(len(pids)), counts)
        differ = 0
        for start in range(0, total, 4096):  # bounded memory on large indexes
            ours = np.asarray(vectors[live_rows[start : start + 4096]], dtype=np.float32)
            theirs = self._stored[entries[start : start + 4096]]
            differ += int(np.any(theirs != ours, axis=1).sum())
        return differ


def graph_mismatches(index: faiss.IndexIDMap2, pids: np.ndarray, vectors: np.ndarray) -> int:
    """How many of ``pids`` the graph from build_hnsw holds with a vector other than theirs in
    ``vectors``: non-zero means the graph file is damaged. Pids it does not hold are ignored."""
    _, first = np.unique(pids, return_index=True)
    if len(first) < len(pids):  # a pid listed twice is compared once
        pids, vectors = pids[first], vectors[first]
    return GraphVectors(index).mismatches(pids, vectors)


class DenseIndex:
    """Searchable vectors of one generation: an exact part and, optionally, an HNSW part."""

    def __init__(
        self,
        dim: int,
        exact_pids: np.ndarray,
        exact_vectors: np.ndarray,
        hnsw: faiss.IndexIDMap2 | None = None,
        hnsw_excluded: np.ndarray | None = None,
    ) -> None:
        self.dim = dim
        self._exact = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if len(exact_pids):
            self._exact.add_with_ids(
                np.ascontiguousarray(exact_vectors, dtype=np.float32),
                exact_pids.astype(np.int64),
            )
        self._hnsw = hnsw
        self._hnsw_excluded = (
            np.asarray(hnsw_excluded, dtype=np.int64) if hnsw_excluded is not None else None
        )

    @property
    def approximate(self) -> bool:
        return self._hnsw is not None

    def count(self) -> int:
        excluded = 0 if self._hnsw_excluded is None else len(self._hnsw_excluded)
        hnsw_count = self._hnsw.ntotal - excluded if self._hnsw is not None else 0
        return self._exact.ntotal + hnsw_count

    def vector(self, pid: int) -> np.ndarray:
        """The stored vector of a live paragraph; KeyError if there is none."""
        for index in (self._exact, self._hnsw):
            if index is not None:
                try:
                    # The stubs' first overload is the torch one; numpy in, numpy out.
                    return cast(np.ndarray, index.reconstruct(int(pid)))
                except RuntimeError:  # not in this part
                    continue
        raise KeyError(pid)

    def search(
        self, vector: np.ndarray, limit: int, allowed: np.ndarray | None = None,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> list[Candidate]:
        """The `limit` nearest paragraphs to vector, optionally only among `allowed` pids.
        ef_search: how many candidates a search of the HNSW graph keeps (more: better recall,
        slower)."""
        if limit <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        found: dict[int, float] = {}
        # One query gains nothing from FAISS's OpenMP threads, and on a busy machine they
        # wait for cores that torch's threads hold (see docs/benchmarks.md). The setting
        # belongs to the calling thread, so it is restored for whatever that thread runs next.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            for index, params in self._parts(allowed, ef_search):
                k = min(limit, index.ntotal)
                if k == 0:
                    continue
                scores, ids = index.search(query, k, params=params)
                for pid, score in zip(ids[0].tolist(), scores[0].tolist(), strict=True):
                    if pid >= 0:
                        found[pid] = max(score, found.get(pid, -np.inf))
        finally:
            faiss.omp_set_num_threads(threads)
        ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [Candidate(pid, float(score)) for pid, score in ranked]

    def _parts(
        self, allowed: np.ndarray | None, ef_search: int
    ) -> Iterator[tuple[faiss.Index, faiss.SearchParameters | None]]:
        allowed_selector = (
            faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            if allowed is not None
            else None
        )
        # The stubs lack the keyword arguments of faiss's SearchParameters wrapper, and
        # SearchParametersHNSW.
        yield self._exact, (
            faiss.SearchParameters(sel=allowed_selector)  # type: ignore[call-arg]
            if allowed_selector
            else None
        )
        if self._hnsw is None:
            return
        selector: faiss.IDSelector | None = allowed_selector
        if self._hnsw_excluded is not None and len(self._hnsw_excluded):
            # Every selector is kept in a local: FAISS does not own the ones it is given.
            removed = faiss.IDSelectorBatch(self._hnsw_excluded)
            not_removed = faiss.IDSelectorNot(removed)
            selector = (
                faiss.IDSelectorAnd(selector, not_removed) if selector else not_removed
            )
        params = faiss.SearchParametersHNSW(efSearch=ef_search)  # type: ignore[attr-defined]
        if selector is not None:
            params.sel = selector
        yield self._hnsw, params
