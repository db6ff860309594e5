"""The index lifecycle with real Whoosh and FAISS and a fake encoder: incremental updates,
skipped files, generations, the writer lock and recovery after a failed run."""

from __future__ import annotations

import json

import pytest
from conftest import write

from search.config import Settings
from search.engine import Engine
from search.errors import IndexBusy, IndexCorrupt, IndexIncompatible
from search.indexer import update_index
from search.query import Mode, Query
from search.store import IndexStore

KYIV = """Peace talks in Istanbul

Ukraine and Russia will meet again for peace talks on Wednesday in Istanbul, officials said.

The negotiations will likely center on further prisoner exchanges between the two sides.
"""
MARKETS = """Markets rally

Stock markets in Europe rose sharply on Tuesday as investors welcomed the bank's decision.
"""
WEATHER = """Storm warning

Heavy rain and strong winds are expected across the northern coast later this week.
"""


@pytest.fixture
def corpus(tmp_path):
    seeds = tmp_path / "seeds"
    write(seeds / "world" / "kyiv.txt", KYIV)
    write(seeds / "markets.txt", MARKETS)
    return seeds


def run(seeds, index_dir, encoder, **kwargs):
    return update_index(seeds, index_dir, Settings(model="fake", **kwargs), lambda: encoder)


def open_engine(index_dir, encoder):
    return Engine(index_dir, encoder_factory=lambda model: encoder).open()


def top_ids(engine, text, mode=Mode.KEYWORD, **kwargs):
    return [h.paragraph_id for h in engine.search(Query(text, mode=mode, **kwargs)).hits]


def test_first_run_indexes_everything(corpus, tmp_path, fake_encoder):
    summary = run(corpus, tmp_path / "idx", fake_encoder)
    assert (summary.added, summary.changed, summary.removed, summary.skipped) == (2, 0, 0, 0)
    assert summary.paragraphs_added == 3 == summary.paragraphs_embedded
    engine = open_engine(tmp_path / "idx", fake_encoder)
    assert top_ids(engine, "prisoner exchange")[0] == "world/kyiv.txt:1"
    stats = engine.stats()
    assert (stats.articles, stats.paragraphs, stats.languages) == (2, 3, {"en": 3})


def test_updates_embed_only_what_changed(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    first = run(corpus, index_dir, fake_encoder)
    unchanged = run(corpus, index_dir, fake_encoder)
    assert unchanged.generation == first.generation and unchanged.paragraphs_embedded == 0

    write(corpus / "weather.txt", WEATHER)
    added = run(corpus, index_dir, fake_encoder)
    assert (added.added, added.unchanged, added.paragraphs_embedded) == (1, 2, 1)
    assert added.generation != first.generation

    write(corpus / "markets.txt", MARKETS.replace("Europe", "Asia"))
    changed = run(corpus, index_dir, fake_encoder)
    assert (changed.changed, changed.paragraphs_removed, changed.paragraphs_embedded) == (1, 1, 1)

    (corpus / "world" / "kyiv.txt").unlink()
    removed = run(corpus, index_dir, fake_encoder)
    assert (removed.removed, removed.paragraphs_removed) == (1, 2)

    engine = open_engine(index_dir, fake_encoder)
    assert top_ids(engine, "prisoner exchange") == []
    assert top_ids(engine, "markets Asia")[0] == "markets.txt:0"
    assert top_ids(engine, "Europe") == []
    assert top_ids(engine, "rain storm")[0] == "weather.txt:0"
    assert engine.stats().articles == 2


def test_rebuild_reuses_cached_embeddings(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    run(corpus, index_dir, fake_encoder)
    summary = update_index(corpus, index_dir, Settings(model="fake"), lambda: fake_encoder,
                           rebuild=True)
    assert summary.added == 2 and summary.paragraphs_added == 3
    assert summary.paragraphs_embedded == 0


def test_bad_files_are_reported_and_good_ones_indexed(corpus, tmp_path, fake_encoder):
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 100)
    (corpus / "latin1.txt").write_bytes("Caf\xe9 au lait\n\nUn texte".encode("latin-1"))
    (corpus / "empty.md").write_text("  \n", encoding="utf-8")
    (corpus / "broken.json").write_text('{"title": "x", "text": ', encoding="utf-8")
    summary = run(corpus, tmp_path / "idx", fake_encoder)
    assert summary.added == 2
    assert sorted(p.path for p in summary.problems) == [
        "binary.txt", "broken.json", "empty.md", "latin1.txt"]
    assert all(p.reason for p in summary.problems)


def test_a_file_that_turns_unreadable_keeps_its_indexed_version(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    run(corpus, index_dir, fake_encoder)
    (corpus / "markets.txt").write_bytes(b"\xff\xfe broken")
    summary = run(corpus, index_dir, fake_encoder)
    assert [p.path for p in summary.problems] == ["markets.txt"] and summary.removed == 0
    assert top_ids(open_engine(index_dir, fake_encoder), "stock markets")[0] == "markets.txt:0"


def test_open_readers_keep_their_generation(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    run(corpus, index_dir, fake_encoder)
    engine = open_engine(index_dir, fake_encoder)
    (corpus / "markets.txt").unlink()
    write(corpus / "weather.txt", WEATHER)
    run(corpus, index_dir, fake_encoder)
    run(corpus, index_dir, fake_encoder)  # a second generation on top: GC runs meanwhile
    assert top_ids(engine, "stock markets")[0] == "markets.txt:0"
    assert top_ids(engine, "rain storm") == []
    assert engine.refresh() is True
    assert top_ids(engine, "stock markets") == []
    assert top_ids(engine, "rain storm")[0] == "weather.txt:0"


def test_old_generations_are_collected(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    for number in range(4):
        write(corpus / f"extra{number}.txt", WEATHER.replace("week", f"week {number}"))
        run(corpus, index_dir, fake_encoder)
    names = sorted(p.name for p in (index_dir / "generations").iterdir())
    assert len(names) == 2
    used = set()
    store = IndexStore(index_dir)
    for name in names:
        manifest = store.read_manifest(name)
        used |= {f"{s}.{ext}" for s in manifest.segments for ext in ("jsonl", "npy")}
    assert {p.name for p in (index_dir / "segments").iterdir()} == used


def test_second_writer_gets_a_clear_message(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    with IndexStore(index_dir).writer_lock():
        with pytest.raises(IndexBusy, match="being updated by process"):
            run(corpus, index_dir, fake_encoder)


def test_failed_run_leaves_previous_generation_and_next_run_recovers(
    corpus, tmp_path, fake_encoder, monkeypatch
):
    index_dir = tmp_path / "idx"
    first = run(corpus, index_dir, fake_encoder)
    write(corpus / "weather.txt", WEATHER)
    from search.keyword import KeywordIndex

    def crash(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(KeywordIndex, "commit", crash)
        with pytest.raises(KeyboardInterrupt):
            run(corpus, index_dir, fake_encoder)
    assert IndexStore(index_dir).current_name() == first.generation
    assert top_ids(open_engine(index_dir, fake_encoder), "rain storm") == []
    again = run(corpus, index_dir, fake_encoder)
    assert again.added == 1
    assert not list((index_dir / "generations").glob("*.tmp"))
    assert top_ids(open_engine(index_dir, fake_encoder), "rain storm")[0] == "weather.txt:0"


def test_another_model_is_refused_without_rebuild(corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    run(corpus, index_dir, fake_encoder)
    with pytest.raises(IndexIncompatible, match="--rebuild"):
        update_index(corpus, index_dir, Settings(model="other"), lambda: fake_encoder)
    with pytest.raises(IndexIncompatible, match="--model fake"):
        Engine(index_dir, model="other", encoder_factory=lambda m: fake_encoder).open()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: (d / "CURRENT").write_text("g999999"),
        lambda d: next((d / "generations").glob("g*/manifest.json")).write_text("{not json"),
        lambda d: next((d / "segments").glob("*.npy")).write_bytes(b"garbage"),
        lambda d: next((d / "segments").glob("*.jsonl")).write_text('{"article": '),
    ],
    ids=["pointer", "manifest", "vectors", "paragraphs"],
)
def test_damaged_index_is_a_clear_error_and_rebuild_fixes_it(
    corpus, tmp_path, fake_encoder, damage
):
    index_dir = tmp_path / "idx"
    run(corpus, index_dir, fake_encoder)
    damage(index_dir)
    with pytest.raises(IndexCorrupt, match="search index --rebuild"):
        open_engine(index_dir, fake_encoder)
    update_index(corpus, index_dir, Settings(model="fake"), lambda: fake_encoder, rebuild=True)
    assert top_ids(open_engine(index_dir, fake_encoder), "prisoner")[0] == "world/kyiv.txt:1"


def test_approximate_index_past_the_threshold(tmp_path, fake_encoder):
    seeds = tmp_path / "seeds"
    lines = [json.dumps({"id": str(n), "title": f"Report {n}",
                         "text": f"Report number {n} about topic{n % 7} and item{n}"})
             for n in range(60)]
    write(seeds / "feed.jsonl", "\n".join(lines))
    index_dir = tmp_path / "idx"
    run(seeds, index_dir, fake_encoder, ann_threshold=50)
    engine = open_engine(index_dir, fake_encoder)
    assert engine.stats().approximate
    hits = engine.search(Query("Report number 42 item42", mode=Mode.SEMANTIC)).hits
    assert hits[0].article_id == "feed.jsonl#42"
    write(seeds / "more.jsonl", json.dumps({"title": "Late", "text": "A late report item999"}))
    run(seeds, index_dir, fake_encoder, ann_threshold=50)
    engine.refresh()
    assert engine.search(Query("late report item999", mode=Mode.SEMANTIC)).hits[
        0].article_id.startswith("more.jsonl")
