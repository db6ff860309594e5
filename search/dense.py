"""FAISS vector index keyed by paragraph id: exact inner product, plus an optional HNSW part.

The HNSW graph is expensive to build, so it is built once over many vectors, saved, and
shared by later generations; vectors added after it (the "delta") are searched exactly
beside it, and vectors removed since are excluded with an id selector. Vectors are
L2-normalized, so inner product is cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorrupt
from .query import Candidate


@dataclass(frozen=True)
class HnswParams:
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 384


def build_hnsw(pids: np.ndarray, vectors: np.ndarray, params: HnswParams) -> faiss.Index:
    """An HNSW index over vectors, keyed by pids (inner-product metric)."""
    graph = faiss.IndexHNSWFlat(vectors.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = params.ef_construction
    index = faiss.IndexIDMap2(graph)
    index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), pids.astype(np.int64))
    return index


def save_hnsw(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_hnsw(path: Path) -> faiss.Index:
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


def graph_mismatches(index: faiss.Index, pids: np.ndarray, vectors: np.ndarray) -> int:
    """How many of ``pids`` the graph from build_hnsw holds with a vector other than theirs in
    ``vectors``: non-zero means the graph file is damaged. Pids it does not hold are ignored."""
    covered = faiss.vector_to_array(index.id_map)
    storage = faiss.downcast_index(faiss.downcast_index(index.index).storage)
    if storage.d != vectors.shape[1]:
        return int(storage.ntotal)
    stored = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d)
    stored = stored.reshape(storage.ntotal, storage.d)  # a view: `index` must outlive it
    order = np.argsort(pids)
    at = np.minimum(np.searchsorted(pids, covered, sorter=order), max(len(pids) - 1, 0))
    known = (pids[order[at]] == covered) if len(pids) else np.zeros(len(covered), dtype=bool)
    graph_rows = np.flatnonzero(known)
    live_rows = order[at[known]]
    differ = 0
    for start in range(0, len(graph_rows), 4096):  # bounded memory on large indexes
        ours = np.asarray(vectors[live_rows[start : start + 4096]], dtype=np.float32)
        differ += int(np.any(stored[graph_rows[start : start + 4096]] != ours, axis=1).sum())
    return differ


class DenseIndex:
    """Searchable vectors of one generation: an exact part and, optionally, an HNSW part."""

    def __init__(
        self,
        dim: int,
        exact_pids: np.ndarray,
        exact_vectors: np.ndarray,
        hnsw: faiss.Index | None = None,
        hnsw_excluded: np.ndarray | None = None,
        ef_search: int = 384,
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
        self._ef_search = ef_search

    @property
    def approximate(self) -> bool:
        return self._hnsw is not None

    def count(self) -> int:
        excluded = 0 if self._hnsw_excluded is None else len(self._hnsw_excluded)
        hnsw_count = self._hnsw.ntotal - excluded if self._hnsw is not None else 0
        return self._exact.ntotal + hnsw_count

    def search(
        self, vector: np.ndarray, limit: int, allowed: np.ndarray | None = None
    ) -> list[Candidate]:
        """The `limit` nearest paragraphs to vector, optionally only among `allowed` pids."""
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
            for index, params in self._parts(allowed):
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

    def _parts(self, allowed: np.ndarray | None):
        allowed_selector = (
            faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            if allowed is not None
            else None
        )
        yield self._exact, (
            faiss.SearchParameters(sel=allowed_selector) if allowed_selector else None
        )
        if self._hnsw is None:
            return
        selector = allowed_selector
        if self._hnsw_excluded is not None and len(self._hnsw_excluded):
            # Every selector is kept in a local: FAISS does not own the ones it is given.
            removed = faiss.IDSelectorBatch(self._hnsw_excluded)
            not_removed = faiss.IDSelectorNot(removed)
            selector = (
                faiss.IDSelectorAnd(selector, not_removed) if selector else not_removed
            )
        params = faiss.SearchParametersHNSW(efSearch=self._ef_search)
        if selector is not None:
            params.sel = selector
        yield self._hnsw, params
