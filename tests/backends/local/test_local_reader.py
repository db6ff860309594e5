"""LocalReader.load: paragraph metadata in arrays with texts read from the segment files on
demand, and the vectors checked against the HNSW graph a chunk at a time. The reference for
what a generation holds is live_records/live_vectors, which read the files the plain way."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import FakeEncoder, write

import search.backends.local.vectors as vectors_module
from search.backends.local.dense import HnswParams, build_hnsw, save_hnsw
from search.backends.local.reader import LocalReader
from search.backends.local.store import IndexStore
from search.backends.local.vectors import live_records, live_vectors
from search.backends.local.vectors import spans as file_spans
from search.config import Settings
from search.errors import IndexCorrupt
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.records import Filters

DETECTOR = LanguageDetector()


def port(n: int, words: str = "moved container ships") -> str:
    return (f"---\nlang: en\nsource: {'Wire' if n % 2 else 'Daily'}\n---\n\n# Port {n}\n\n"
            f"The harbour cranes at terminal {n} {words}.\n\nDock workers at terminal {n} "
            "were busy all week.")


def build(seeds: Path, index_dir: Path) -> None:
    update_index(seeds, index_dir, Settings(model="fake", ann_threshold=10), FakeEncoder,
                 detector=DETECTOR)


@pytest.fixture(scope="module")
def updated(tmp_path_factory) -> Path:
    """An index with a graph, then one article changed, one removed and two added: the
    second generation has vectors outside the graph and graph vectors no longer live."""
    root = tmp_path_factory.mktemp("reader")
    seeds = root / "seeds"
    for n in range(24):
        write(seeds / f"port{n}.md", port(n))
    write(seeds / "de.md", "---\nlang: de\n---\n\n# Gespräche\n\nDie Verhandlungen über einen "
          "Gefangenenaustausch gehen weiter, sagte das Ministerium.")
    build(seeds, root / "idx")
    write(seeds / "port3.md", port(3, "stood still because of a strike"))
    (seeds / "port5.md").unlink()
    write(seeds / "new.md", "---\nlang: fr\n---\n\n# Grève\n\nLes dockers du port sont en "
          "grève depuis lundi matin.\n\nLes navires attendent au large de la côte.")
    write(seeds / "zh.md", "---\nlang: zh\n---\n\n# 港口\n\n港口工人周一开始罢工，船只在海上等待。")
    build(seeds, root / "idx")
    store = IndexStore(root / "idx")
    manifest = store.read_manifest(store.require_current())
    assert manifest.name == "g000002" and manifest.ann == "ann-g000001.faiss"
    return root / "idx"


@pytest.fixture
def index_dir(updated, tmp_path) -> Path:
    shutil.copytree(updated, tmp_path / "idx")
    return tmp_path / "idx"


@pytest.fixture
def loaded(updated):
    store = IndexStore(updated)
    reader = LocalReader.load(store, store.require_current(), ef_search=1024)
    yield store, reader
    reader.close()


def stored_paragraphs(store: IndexStore) -> dict[int, tuple]:
    manifest = store.read_manifest(store.require_current())
    return {p.pid: (article.id, p.position, p.start, p.end, p.text, p.lang)
            for _, _, article in live_records(store, manifest) for p in article.paragraphs}


def fields(p) -> tuple:
    return p.article_id, p.position, p.start, p.end, p.text, p.lang


def test_lazily_read_paragraphs_equal_the_stored_ones_after_updates(loaded):
    store, reader = loaded
    expected = stored_paragraphs(store)
    paragraphs = reader.paragraph_store
    assert paragraphs.pids.tolist() == list(expected) and len(paragraphs) == len(expected)
    assert {p.pid: fields(p) for p in paragraphs.in_order()} == expected
    assert {pid: fields(reader.paragraphs([pid])[0]) for pid in reversed(list(expected))} \
        == expected
    assert [fields(p) for p in reader.paragraphs(list(expected)[::-1])] == \
        [expected[pid] for pid in list(expected)[::-1]]
    assert reader.langs(list(expected)) == [e[5] for e in expected.values()]
    assert reader.article_ids(list(expected)) == [e[0] for e in expected.values()]
    texts = " ".join(e[4] for e in expected.values())
    assert "strike" in texts and "moved container ships" in texts  # changed, unchanged
    assert "terminal 5" not in texts and "grève" in texts and "罢工" in texts  # removed, added


def test_articles_list_their_live_paragraphs(loaded):
    store, reader = loaded
    expected = stored_paragraphs(store)
    by_article: dict[str, list[int]] = {}
    for pid, (article_id, *_rest) in expected.items():
        by_article.setdefault(article_id, []).append(pid)
    articles = reader.paragraph_store.articles
    assert {a.id: list(a.paragraph_pids) for a in articles} == by_article
    assert [reader.article(a.id) for a in articles] == articles
    new = reader.article("new.md")
    assert new is not None and new.lang == "fr" and new.source is None
    assert reader.article("port5.md") is None


def test_unknown_pids_are_key_errors_without_reading(loaded):
    store, reader = loaded
    missing = max(stored_paragraphs(store)) + 1
    assert reader.paragraphs([min(stored_paragraphs(store))])
    with pytest.raises(KeyError, match=str(missing)):
        reader.paragraphs([missing])
    with pytest.raises(KeyError):
        reader.langs([missing])
    with pytest.raises(KeyError):
        reader.article_ids([missing])
    assert reader.paragraphs([]) == []


@pytest.mark.parametrize("filters", [
    Filters(languages=("fr", "zh")), Filters(sources=("Wire",)), Filters(languages=("de",),
    sources=("Daily",)), Filters(article_ids=("port3.md", "new.md"))])
def test_filters_select_the_paragraphs_whose_fields_match(loaded, filters):
    _store, reader = loaded
    want = [p.pid for p in reader.paragraph_store.in_order()
            if filters.admits(p.lang, p.article_id, reader.article(p.article_id).source,
                              reader.article(p.article_id).date)]
    assert reader.paragraph_store.matching(filters).tolist() == want


def test_dense_side_holds_every_live_vector_once(loaded):
    store, reader = loaded
    pids, vectors = live_vectors(store, reader.manifest)
    assert reader.dense.approximate and reader.dense.count() == len(pids)
    found = reader.dense.search(vectors[0], len(pids) + 10)
    assert sorted(c.pid for c in found) == sorted(pids.tolist())  # removed ones excluded
    assert found[0].score == pytest.approx(1.0, abs=1e-5)


def test_reads_from_many_threads_agree(loaded):
    store, reader = loaded
    expected = stored_paragraphs(store)
    pids = list(expected)

    def read(n: int) -> list[tuple]:
        return [fields(p) for p in reader.paragraphs(pids[n % 5 :] + pids[: n % 5])]

    with ThreadPoolExecutor(8) as pool:
        for n, got in enumerate(pool.map(read, range(200))):
            assert got == [expected[pid] for pid in pids[n % 5 :] + pids[: n % 5]]


@pytest.mark.parametrize("rows, limit, spans", [
    ([], 4, []),
    ([0, 1, 2, 3, 4], 4, [(0, 4, [0, 1, 2, 3]), (4, 5, [4])]),
    ([2, 3, 9, 10, 11, 30], 4, [(2, 4, [2, 3]), (9, 12, [9, 10, 11]), (30, 31, [30])]),
    ([5, 8, 9], 10, [(5, 10, [5, 8, 9])]),
])
def test_spans_cover_each_row_once_within_the_limit(rows, limit, spans):
    got = [(first, end, wanted.tolist())
           for first, end, wanted in file_spans(np.array(rows, dtype=np.int64), limit)]
    assert got == spans


# -- damage found while loading, whichever chunk it is in --------------------------------------


@pytest.fixture(params=[2, 4096], ids=["small chunks", "one chunk"])
def chunk_rows(request, monkeypatch):
    monkeypatch.setattr(vectors_module, "CHUNK_ROWS", request.param)
    return request.param


def load(index_dir: Path) -> LocalReader:
    store = IndexStore(index_dir)
    return LocalReader.load(store, store.require_current(), ef_search=1024)


def edit_vectors(index_dir: Path, edit) -> None:
    path = index_dir / "segments" / "s000001.npy"
    np.save(path, edit(np.load(path)))


def test_undamaged_copy_loads(index_dir, chunk_rows):
    load(index_dir).close()


def test_a_damaged_vector_in_the_last_chunk_is_reported(index_dir, chunk_rows):
    def scale_last_live(vectors):
        vectors[-1] *= 2  # the last paragraph of port9.md (the last file), still live
        return vectors

    edit_vectors(index_dir, scale_last_live)
    with pytest.raises(IndexCorrupt, match="the vector files are damaged") as error:
        load(index_dir)
    assert str(index_dir) in str(error.value) and "search index --rebuild" in str(error.value)


def test_a_vector_file_shorter_than_its_paragraphs_is_reported(index_dir, chunk_rows):
    edit_vectors(index_dir, lambda vectors: vectors[:-1])
    with pytest.raises(IndexCorrupt, match="vectors and paragraphs disagree"):
        load(index_dir)


def test_a_graph_with_other_vectors_is_reported(index_dir, chunk_rows):
    store = IndexStore(index_dir)
    manifest = store.read_manifest("g000001")
    pids, vectors = live_vectors(store, manifest)
    vectors = np.ascontiguousarray(vectors.copy())
    vectors[[-2, -1]] = vectors[[-1, -2]]  # two swapped, late in the order
    save_hnsw(build_hnsw(pids, vectors, HnswParams()), store.segments / manifest.ann)
    with pytest.raises(IndexCorrupt, match="the vector graph .* is damaged"):
        load(index_dir)


def test_a_segment_changed_while_open_is_reported_not_misread(index_dir):
    reader = load(index_dir)
    try:
        pid = int(reader.paragraph_store.pids[0])
        path = index_dir / "segments" / "s000001.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join([lines[1], lines[0], *lines[2:]]))  # same file, in place
        with pytest.raises(IndexCorrupt, match="changed while the index was open"):
            reader.paragraphs([pid])
    finally:
        reader.close()
