"""Which collections and meta points the Qdrant backend keeps: garbage collection touches its
own index's collections only (several indexes may share a server, or a local folder), and
`check` leaves no lease behind to hold its generation."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.test_contract import B2, A, B, C, commit, finds
from search.backends.qdrant import QdrantBackend, schema
from search.backends.qdrant.connection import forget


@pytest.mark.parametrize(("collection", "ours"), [
    ("news-c000001", True), ("news-c1234567", True), ("news-meta", False),
    ("news-cz-c000001", False), ("news-cz-meta", False), ("news-c1-c000001", False),
    ("news-c", False), ("news-c00000²", False), ("other-c000001", False)])
def test_points_collections_of_an_index(collection, ours):
    assert schema.is_points_collection("news", collection) is ours


def meta_ids(backend: QdrantBackend) -> list[int]:
    points, _ = backend.client.scroll(backend.meta, limit=1000)
    return sorted(int(p.id) for p in points)


def collections(backend: QdrantBackend) -> set[str]:
    return {c.name for c in backend.client.get_collections().collections}


def test_garbage_collection_leaves_other_indexes_alone(tmp_path: Path):
    folder = str(tmp_path / "qdrant")
    news = QdrantBackend(tmp_path / "news", folder, name="news")
    others = [QdrantBackend(tmp_path / name, folder, name=name)
              for name in ("news-cz", "news-c1", "new")]
    try:
        for other in others:
            commit(other, None, C)
        first = commit(news, None, A)
        second = commit(news, None, B)  # a rebuild: a new collection
        third = commit(news, second, B2, remove=["b.jsonl"])
        fourth = commit(news, third, C)
        before = collections(news)
        assert {o.meta for o in others} < before
        with news.writer_lock():
            removed = news.collect_garbage()
        assert sorted(removed) == [first.name, second.name, "news-c000001"]
        assert collections(news) == before - {"news-c000001"}
        for other in others:
            reader = other.open(other.current() or "")
            try:
                assert finds(reader, "Снегопад") and other.check().ok
            finally:
                reader.close()
        assert news.current() == fourth.name and news.check().ok
    finally:
        forget(folder)


def test_check_leaves_no_lease(tmp_path: Path):
    backend = QdrantBackend(tmp_path / "idx", str(tmp_path / "qdrant"))
    try:
        first = commit(backend, None, A)
        assert backend.check().ok
        assert meta_ids(backend) == [schema.CURRENT_ID, first.generation]
        second = commit(backend, first, B)
        third = commit(backend, second, C)
        with backend.writer_lock():
            assert backend.collect_garbage() == [first.name]  # no lease holds it
        assert meta_ids(backend) == [schema.CURRENT_ID, second.generation, third.generation]
    finally:
        forget(backend.location)
