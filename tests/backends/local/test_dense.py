from __future__ import annotations

import numpy as np
import pytest

from search.backends.local.dense import DenseIndex, HnswParams, build_hnsw, load_hnsw, save_hnsw
from search.errors import IndexCorrupt


def unit_vectors(count: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_search_finds_itself_first_and_respects_allowed():
    vectors = unit_vectors(200)
    pids = np.arange(1000, 1200)
    index = DenseIndex(32, pids, vectors)
    top = index.search(vectors[17], 5)
    assert top[0].pid == 1017 and top[0].score == pytest.approx(1.0, abs=1e-5)
    assert [c.score for c in top] == sorted((c.score for c in top), reverse=True)
    only = index.search(vectors[17], 5, allowed=np.array([1003, 1150]))
    assert {c.pid for c in only} == {1003, 1150}
    assert index.search(vectors[17], 5, allowed=np.array([], dtype=np.int64)) == []
    assert index.count() == 200 and not index.approximate


def test_empty_index_returns_nothing():
    index = DenseIndex(8, np.zeros(0, dtype=np.int64), np.zeros((0, 8), dtype=np.float32))
    assert index.search(unit_vectors(1, 8)[0], 10) == []


def test_hnsw_with_delta_and_removed_vectors(tmp_path):
    vectors = unit_vectors(600)
    pids = np.arange(600)
    path = tmp_path / "ann.faiss"
    save_hnsw(build_hnsw(pids[:500], vectors[:500], HnswParams(m=16)), path)
    removed = np.array([10, 11])
    index = DenseIndex(32, pids[500:], vectors[500:], load_hnsw(path), removed)
    assert index.approximate and index.count() == 598
    assert index.search(vectors[42], 1)[0].pid == 42  # from the graph
    assert index.search(vectors[550], 1)[0].pid == 550  # from the exact delta
    assert all(c.pid not in (10, 11) for c in index.search(vectors[10], 50))
    assert {c.pid for c in index.search(vectors[3], 10, allowed=np.array([3, 520]))} == {3, 520}


def test_hnsw_recall_against_exact():
    vectors = unit_vectors(3000, dim=64, seed=1)
    pids = np.arange(3000)
    exact = DenseIndex(64, pids, vectors)
    approx = DenseIndex(64, pids[:0], vectors[:0], build_hnsw(pids, vectors, HnswParams()))
    queries = unit_vectors(50, dim=64, seed=2)
    overlap = [
        len({c.pid for c in exact.search(q, 10)} & {c.pid for c in approx.search(q, 10)}) / 10
        for q in queries
    ]
    assert np.mean(overlap) >= 0.95


def test_garbled_graph_file_is_a_clear_error(tmp_path):
    path = tmp_path / "ann.faiss"
    path.write_bytes(b"not a faiss index at all")
    with pytest.raises(IndexCorrupt, match="search index --rebuild"):
        load_hnsw(path)


def test_vector_returns_the_stored_vector_from_either_part():
    vectors = unit_vectors(300)
    pids = np.arange(300)
    graph = build_hnsw(pids[:200], vectors[:200], HnswParams(m=8, ef_construction=40))
    index = DenseIndex(32, pids[200:], vectors[200:], graph, hnsw_excluded=np.array([5]))
    for pid in (0, 150, 199, 200, 299):
        np.testing.assert_array_equal(index.vector(pid), vectors[pid])
    with pytest.raises(KeyError):
        index.vector(300)


def test_ef_search_trades_recall_for_work():
    vectors = unit_vectors(3000, dim=64, seed=3)
    pids = np.arange(3000)
    graph = build_hnsw(pids, vectors, HnswParams(m=4, ef_construction=16))
    index = DenseIndex(64, np.zeros(0, dtype=np.int64), np.zeros((0, 64), np.float32), graph)
    queries = unit_vectors(50, dim=64, seed=4)
    truth = [set(np.argsort(-(vectors @ q))[:10].tolist()) for q in queries]

    def recall(ef: int) -> float:
        found = [{c.pid for c in index.search(q, 10, ef_search=ef)} for q in queries]
        return float(np.mean([len(f & t) / 10 for f, t in zip(found, truth, strict=True)]))

    low, high = recall(10), recall(1000)
    assert high > low + 0.5 and high > 0.9
