"""A damaged or unusable embedding cache never breaks indexing: `search index` says so in one
warning line, rebuilds or bypasses the cache, and the index comes out the same."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import base_corpus, build, fingerprint, run

from search.index import embedding_cache
from search.index.embedding_cache import EmbeddingCache

HOLD_LOCK = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An index and its filled cache, and what the index holds."""
    root = tmp_path_factory.mktemp("cache")
    seeds = base_corpus(root / "seeds")
    index_dir = build(seeds, root / "idx")
    expected = fingerprint(index_dir)
    del expected["generation"]
    return {"seeds": seeds, "index": index_dir, "expected": expected,
            "paragraphs": len(expected["paragraphs"])}


@pytest.fixture(autouse=True)
def fake_model_and_short_lock_wait(fake_model, monkeypatch):
    monkeypatch.setattr(embedding_cache, "LOCK_TIMEOUT", 0.2)


def rebuild(runner, built, index_dir: Path) -> tuple[dict, list[str]]:
    """`search index --rebuild` (every text goes through the cache): its summary and the lines
    it printed on stderr."""
    result = run(runner, "index", "--rebuild", "--json", "--seeds", built["seeds"], "--index",
                 index_dir, "--model", "fake")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr.strip().splitlines()


def same_index(built, index_dir: Path) -> bool:
    found = fingerprint(index_dir)
    del found["generation"]
    return found == built["expected"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(3).bytes(path.stat().st_size))


def garble_a_vector(path: Path) -> None:
    """16 random bytes inside one stored vector: SQLite reads on, and the vector is wrong."""
    db = sqlite3.connect(path)
    [(blob,)] = db.execute("SELECT vector FROM vectors LIMIT 1").fetchall()
    db.close()
    data = bytearray(path.read_bytes())
    at = data.index(blob) + 32
    data[at : at + 16] = np.random.default_rng(7).bytes(16)
    path.write_bytes(bytes(data))


def folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize(("damage", "warning", "embedded"), [
    (truncate, "was damaged (database disk image is malformed); started afresh", "all"),
    (garbage, "was damaged (file is not a database); started afresh", "all"),
    (garble_a_vector, "1 damaged vectors in the embedding cache", 1),
    (folder, "cannot be used (unable to open database file); indexing without it", "all"),
], ids=["truncated", "garbage", "garbled", "folder"])
def test_damaged_cache_is_one_warning_and_the_same_index(built, tmp_path, runner, damage,
                                                         warning, embedded):
    index_dir = shutil.copytree(built["index"], tmp_path / "idx")
    cache = index_dir / "cache" / "embeddings.sqlite"
    damage(cache)
    summary, lines = rebuild(runner, built, index_dir)
    assert len(lines) == 1 and lines[0].startswith("warning: ") and warning in lines[0], lines
    assert summary["warnings"] == [lines[0][len("warning: "):]]
    assert summary["paragraphs_embedded"] == (built["paragraphs"] if embedded == "all"
                                              else embedded)
    assert same_index(built, index_dir)
    if damage is not folder:  # rebuilt: the next run finds every text in it, and says nothing
        summary, lines = rebuild(runner, built, index_dir)
        assert (lines, summary["paragraphs_embedded"]) == ([], 0)
        assert same_index(built, index_dir)


def test_cache_locked_by_another_process_is_bypassed_and_kept(built, tmp_path, runner):
    index_dir = shutil.copytree(built["index"], tmp_path / "idx")
    cache = index_dir / "cache" / "embeddings.sqlite"
    before = hashlib.sha256(cache.read_bytes()).hexdigest()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(cache)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        summary, lines = rebuild(runner, built, index_dir)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    assert lines == [f"warning: the embedding cache {cache} is locked by another process; "
                     "indexing without it"]
    assert summary["paragraphs_embedded"] == built["paragraphs"]
    assert same_index(built, index_dir)
    assert hashlib.sha256(cache.read_bytes()).hexdigest() == before  # left as it was
    summary, lines = rebuild(runner, built, index_dir)  # and used again once free
    assert (lines, summary["paragraphs_embedded"]) == ([], 0)


def test_vectors_of_another_dimension_count_as_not_cached(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite", "fake")
    unit = np.ones(4, dtype=np.float32) / 2
    cache.put_many({"a": unit, "b": np.ones(3, dtype=np.float32) / np.sqrt(3),
                    "c": unit * 3, "d": np.full(4, np.nan, dtype=np.float32)})
    found = cache.get_many(["a", "b", "c", "d", "e"], dim=4)
    cache.close()
    assert list(found) == ["a"] and np.array_equal(found["a"], unit)
    assert cache.warning == (f"3 damaged vectors in the embedding cache {cache.path} were "
                             "embedded again")
