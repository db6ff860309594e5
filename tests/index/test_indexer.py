"""The index lifecycle with real Whoosh and FAISS and a fake encoder: incremental updates,
skipped files, generations, the writer lock and recovery after a failed run."""

from __future__ import annotations

import json
import random
from collections import Counter

import faiss
import numpy as np
import pytest
from helpers import write

from search.backends import open_backend
from search.backends.local.dense import load_hnsw
from search.backends.local.manifest import Manifest
from search.backends.local.store import IndexStore
from search.backends.local.vectors import live_records
from search.config import Settings
from search.encoders.centering import LanguageCentroids
from search.engine import Engine
from search.errors import IndexBusy, IndexCorrupt, IndexIncompatible
from search.index.updater import update_index
from search.ranking.query import Mode, Query
from search.records import CheckReport

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


_opened: list[Engine] = []


@pytest.fixture(autouse=True)
def _close_engines():
    """Close the engines a test opened: a snapshot keeps its segment files open."""
    yield
    while _opened:
        _opened.pop().close()


def open_engine(index_dir, encoder):
    engine = Engine(index_dir, encoder_factory=lambda model: encoder).open()
    _opened.append(engine)
    return engine


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
    from search.backends.local.keyword import KeywordIndex

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


# -- the counts kept in the manifest -------------------------------------------------------------

LANGS = {"en": "harbour cranes container ships night", "de": "Hafen Kräne Schiffe Nacht",
         "fr": "port grues navires conteneurs nuit"}


def news(rng: random.Random, number: int) -> str:
    """A markdown article of 1 to 4 paragraphs in a language its front matter names."""
    lang = rng.choice(sorted(LANGS))
    paragraphs = [f"{LANGS[lang]} report {number} part {n} word{rng.randrange(1000)}"
                  for n in range(rng.randint(1, 4))]
    return f"---\nlang: {lang}\n---\n\n# Report {number}\n\n" + "\n\n".join(paragraphs) + "\n"


def feed(rng: random.Random, number: int) -> str:
    """A JSON lines file of 2 or 3 articles, so that a file holds several articles."""
    return "\n".join(
        json.dumps({"id": str(n), "lang": "en", "title": f"Feed {number}.{n}",
                    "text": f"storm warning {number} coast {n} wind{rng.randrange(99)}"})
        for n in range(rng.randint(2, 3)))


def check_index(index_dir) -> CheckReport:
    return open_backend(index_dir).check()


def current(index_dir) -> Manifest:
    store = IndexStore(index_dir)
    return store.read_manifest(store.require_current())


def recount(index_dir, manifest: Manifest) -> dict[str, tuple[list[int], dict[str, int]]]:
    """Each file's paragraph ids and language counts, read from the segments."""
    files = manifest.catalog.files
    owner = {article: path for path, entry in files.items() for article in entry.articles}
    found = {path: ([], Counter()) for path in files}
    for _segment, _row, article in live_records(IndexStore(index_dir), manifest):
        pids, languages = found[owner[article.id]]
        pids.extend(p.pid for p in article.paragraphs)
        languages.update(p.lang for p in article.paragraphs)
    return {path: (sorted(pids), dict(languages)) for path, (pids, languages) in found.items()}


def assert_counts_match_segments(index_dir) -> None:
    manifest = current(index_dir)
    counted = recount(index_dir, manifest)
    catalog = manifest.catalog
    assert {path: (list(e.pids), e.languages) for path, e in catalog.files.items()} == counted
    languages = Counter()
    for _pids, by_lang in counted.values():
        languages.update(by_lang)
    assert catalog.paragraphs == sum(len(pids) for pids, _ in counted.values())
    assert catalog.languages == dict(languages)


def assert_statistics_match_vectors(index_dir, manifest: Manifest) -> None:
    """The catalog's language statistics are those of the generation's stored vectors."""
    pids = [int(pid) for pid in live_pids(index_dir, manifest)]
    reader = open_backend(index_dir).open(manifest.catalog.name)
    try:
        recounted = LanguageCentroids().added(np.stack([reader.vector(p) for p in pids]),
                                              reader.langs(pids))
    finally:
        reader.close()
    kept = manifest.catalog.centroids
    assert kept is not None and kept.counts == recounted.counts
    for lang, total in recounted.sums.items():
        np.testing.assert_allclose(kept.sums[lang], total, atol=1e-6)


def graph_pids(index_dir, manifest: Manifest) -> np.ndarray:
    graph = load_hnsw(IndexStore(index_dir).segments / manifest.ann)
    return np.sort(faiss.vector_to_array(graph.id_map))


def live_pids(index_dir, manifest: Manifest) -> np.ndarray:
    return np.array(sorted(p for pids, _ in recount(index_dir, manifest).values() for p in pids))


def test_manifest_counts_equal_a_recount_after_many_updates(tmp_path, fake_encoder):
    """Random adds, edits and removals: after every run the manifest's per-file counts, ids
    and languages are what the segments hold, and the graph is kept exactly when three
    quarters of the live paragraphs are inside it, as a look into the graph says."""
    rng = random.Random(7)
    seeds, index_dir = tmp_path / "seeds", tmp_path / "idx"
    for number in range(6):
        write(seeds / f"n{number}.md", news(rng, number))
    write(seeds / "feed0.jsonl", feed(rng, 0))
    run(seeds, index_dir, fake_encoder, ann_threshold=5)
    kept = rebuilt = 0
    for step in range(1, 16):
        before = current(index_dir)
        files = sorted(p.name for p in seeds.iterdir())
        for _ in range(rng.randint(1, 3)):
            action = rng.choice(["add", "add", "edit", "remove"])
            if action == "add":
                name = f"n{step}x{rng.randrange(999)}.md"
                write(seeds / name, news(rng, step))
            elif action == "edit":
                name = rng.choice(files)
                maker = feed if name.endswith(".jsonl") else news
                write(seeds / name, maker(rng, step))
            elif len(files) > 2:
                (seeds / files.pop(rng.randrange(len(files)))).unlink(missing_ok=True)
        run(seeds, index_dir, fake_encoder, ann_threshold=5)
        after = current(index_dir)
        assert_counts_match_segments(index_dir)
        assert_statistics_match_vectors(index_dir, after)
        live = live_pids(index_dir, after)
        # The graph also holds paragraphs removed since it was built; those are not live.
        assert np.array_equal(np.isin(live, graph_pids(index_dir, after)),
                              live < after.ann_next_pid)
        inside = np.isin(live, graph_pids(index_dir, before)).sum()
        if after.ann == before.ann:
            kept += 1
            assert inside >= 0.75 * len(live)
        else:
            rebuilt += 1
            assert inside < 0.75 * len(live) and after.ann_next_pid == after.catalog.next_pid
        assert check_index(index_dir).ok
    assert kept and rebuilt  # both branches ran


def test_an_index_in_the_old_format_says_to_rebuild(corpus, tmp_path, fake_encoder):
    """An index written in an earlier format is refused with one line naming the fix, by
    readers and by updates; a rebuild replaces it."""
    index_dir = tmp_path / "idx"
    first = run(corpus, index_dir, fake_encoder)
    path = index_dir / "generations" / current(index_dir).name / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, "format": 1}), encoding="utf-8")
    expected = "was written in index format 1, this version reads 3; run `search index --rebuild`"
    with pytest.raises(IndexIncompatible, match=expected.replace("(", r"\(")):
        open_engine(index_dir, fake_encoder)
    with pytest.raises(IndexIncompatible, match="index format 1"):
        run(corpus, index_dir, fake_encoder)
    rebuilt = update_index(corpus, index_dir, Settings(model="fake"), lambda: fake_encoder,
                           rebuild=True)
    assert rebuilt.added == first.added and rebuilt.paragraphs_embedded == 0
    assert top_ids(open_engine(index_dir, fake_encoder), "prisoner exchanges")


def test_an_index_from_before_the_language_statistics_gets_them_at_its_next_update(
        corpus, tmp_path, fake_encoder):
    index_dir = tmp_path / "idx"
    run(corpus, index_dir, fake_encoder)
    path = index_dir / "generations" / current(index_dir).name / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["catalog"]["centroids"]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert current(index_dir).catalog.centroids is None
    assert top_ids(open_engine(index_dir, fake_encoder), "prisoner exchanges", Mode.SEMANTIC)
    write(corpus / "weather.txt", WEATHER)
    run(corpus, index_dir, fake_encoder)
    assert current(index_dir).catalog.centroids is not None
    assert_statistics_match_vectors(index_dir, current(index_dir))
