"""The updater and the engine on every backend: index a tiny seeds folder, search it, update it.

The index folder records its backend, so `Engine(index_dir)` and a later `update_index`
without a backend find it on their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import FakeEncoder, write

from search.backends import open_backend, recorded
from search.config import Settings
from search.encoders.centering import LanguageCentroids
from search.engine import Engine
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.ranking.language_bias import MIN_PARAGRAPHS
from search.ranking.query import Mode, Query
from search.records import Filters

SETTINGS = Settings(model="fake")
FEED = [
    {"id": "a", "title": "Talks", "lang": "en", "date": "2025-07-22", "source": "Wire",
     "text": "Ukraine and Russia will hold peace talks in Istanbul on Wednesday."},
    {"id": "b", "title": "Prisoners", "lang": "en", "date": "2025-06-01", "source": "Daily",
     "text": "The talks will center on a further exchange of prisoners of war."},
    {"id": "c", "title": "Переговоры", "lang": "ru", "date": "2025-07-23", "source": "Wire",
     "text": "Переговоры в Стамбуле будут посвящены обмену пленными между сторонами."},
    {"id": "d", "title": "Wetter", "lang": "de", "source": "Daily",
     "text": "Am Wochenende wird in Berlin starker Regen mit Gewittern erwartet."},
]
LATE = {"id": "e", "title": "Harvest", "lang": "en", "date": "2025-08-02", "source": "Wire",
        "text": "Farmers expect a record wheat harvest after the late summer rain."}


def write_feed(seeds: Path, name: str, articles: list[dict[str, str]]) -> None:
    write(seeds / name, "\n".join(json.dumps(a, ensure_ascii=False) for a in articles))


def keys(page) -> list[str]:
    return [hit.article_id.split("#", 1)[1] for hit in page.hits]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()  # loading its model takes most of a small test's time


def index_feed(root: Path, backend_name: str, detector: LanguageDetector):
    """(seeds folder, index folder, encoder): the feed indexed on the named backend."""
    encoder = FakeEncoder()
    seeds, index_dir = root / "seeds", root / "idx"
    write_feed(seeds, "feed.jsonl", FEED)
    summary = update_index(seeds, index_dir, SETTINGS, lambda: encoder, detector=detector,
                           backend=backend_name)
    assert summary.generation is not None
    return seeds, index_dir, encoder


def open_engine(index_dir: Path, encoder: FakeEncoder, detector: LanguageDetector) -> Engine:
    return Engine(index_dir, SETTINGS, encoder_factory=lambda model: encoder,
                  detector=detector).open()


@pytest.fixture(scope="module")
def indexed(backend_name: str, tmp_path_factory: pytest.TempPathFactory,
            detector: LanguageDetector):
    """The feed indexed once per backend, for tests that only read it."""
    return index_feed(tmp_path_factory.mktemp(backend_name), backend_name, detector)


@pytest.fixture(scope="module")
def engine(indexed, detector):
    _, index_dir, encoder = indexed
    engine = open_engine(index_dir, encoder, detector)
    yield engine
    engine.close()


def test_the_folder_records_its_backend(indexed, engine, backend_name):
    _, index_dir, _ = indexed
    assert recorded(index_dir)[0] == backend_name
    backend = open_backend(index_dir)
    assert backend.current() == engine.stats().generation
    report = backend.check()
    assert report.ok, report.problems
    assert (report.articles, report.paragraphs) == (len(FEED), len(FEED))


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_finds_the_obvious_paragraph(engine, mode):
    page = engine.search(Query("peace talks Istanbul Wednesday", mode=mode))
    assert keys(page)[0] == "a"


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(languages=("ru",)), {"c"}),
    (Filters(sources=("Daily",)), {"b", "d"}),
    (Filters(date_from="2025-07-01"), {"a", "c"}),  # d has no date
    (Filters(article_ids=("feed.jsonl#b",), date_to="2025-06-30"), {"b"}),
])
@pytest.mark.parametrize("mode", [Mode.KEYWORD, Mode.SEMANTIC])
def test_filters_through_the_engine(engine, mode, filters, expected):
    # Each paragraph holds one of the query's three words: some match (an analyzer that
    # drops a foreign script sees two words), the others do not. Whatever is shown, matches
    # or, when none, the closest paragraphs, is admitted (the contract suite holds each
    # backend's candidates to exactly the admitted paragraphs).
    page = engine.search(Query("talks Переговоры Regen", mode=mode, filters=filters, size=50))
    shown = set(keys(page)) | {hit.article_id.split("#")[1] for hit in page.closest}
    assert shown and shown <= expected
    assert sum(page.facets.languages.values()) == page.total


def test_articles_and_stats(engine):
    view = engine.article("feed.jsonl#c")
    assert view.article.title == "Переговоры" and view.article.lang == "ru"
    assert [p.text for p in view.paragraphs] == [FEED[2]["text"]]
    stats = engine.stats()
    assert (stats.model, stats.dim, stats.articles, stats.paragraphs) == ("fake", 64, 4, 4)
    assert stats.languages == {"de": 1, "en": 2, "ru": 1}


def test_an_update_reaches_the_engine(backend_name, tmp_path, detector):
    seeds, index_dir, encoder = index_feed(tmp_path, backend_name, detector)
    engine = open_engine(index_dir, encoder, detector)
    try:
        before = engine.stats().generation
        write_feed(seeds, "feed.jsonl", [a for a in FEED if a["id"] != "b"])
        write_feed(seeds, "late.jsonl", [LATE])
        # No backend named: the folder's record decides.
        summary = update_index(seeds, index_dir, SETTINGS, lambda: encoder, detector=detector)
        assert summary.generation != before
        # The engine answers from the generation it holds until it refreshes.
        assert keys(engine.search(Query("prisoners", mode=Mode.KEYWORD))) == ["b"]
        assert engine.refresh()
        assert engine.stats().generation == summary.generation
        assert keys(engine.search(Query("wheat harvest", mode=Mode.KEYWORD))) == ["e"]
        assert keys(engine.search(Query("prisoners", mode=Mode.KEYWORD))) == []
        assert engine.stats().articles == len(FEED)
    finally:
        engine.close()
    report = open_backend(index_dir).check()
    assert report.ok, report.problems


# -- the language statistics of the dense side ------------------------------------------------

def live_centroids(index_dir: Path) -> LanguageCentroids:
    backend = open_backend(index_dir)
    name = backend.current()
    assert name is not None
    centroids = backend.catalog(name).centroids
    assert centroids is not None
    return centroids


def assert_same_statistics(a: LanguageCentroids, b: LanguageCentroids) -> None:
    assert a.counts == b.counts
    for lang in a.counts:
        np.testing.assert_allclose(a.sums[lang], b.sums[lang], atol=1e-6)


def test_a_new_generation_carries_its_language_statistics(indexed):
    _, index_dir, encoder = indexed
    centroids = live_centroids(index_dir)
    assert centroids.counts == {"de": 1, "en": 2, "ru": 1}
    english = encoder.encode([FEED[0]["text"], FEED[1]["text"]]).sum(axis=0)
    np.testing.assert_allclose(centroids.sums["en"], english, atol=1e-6)
    np.testing.assert_allclose(centroids.sums["ru"], encoder.encode([FEED[2]["text"]])[0],
                               atol=1e-6)


def test_updates_keep_the_statistics_of_a_fresh_build(backend_name, tmp_path, detector):
    seeds, index_dir, encoder = index_feed(tmp_path / "updated", backend_name, detector)

    def fresh() -> LanguageCentroids:
        folder = tmp_path / f"fresh{len(list(tmp_path.glob('fresh*')))}"
        update_index(seeds, folder, SETTINGS, lambda: encoder, detector=detector,
                     backend=backend_name)
        return live_centroids(folder)

    # A changed file (one article dropped, one rewritten in German), a new file, then a file
    # removed altogether: each update must match a build of the same seeds from nothing.
    german = {**FEED[1], "lang": "de", "text": "Die Gespräche drehen sich um den Austausch."}
    write_feed(seeds, "feed.jsonl", [FEED[0], german, FEED[2]])
    write_feed(seeds, "late.jsonl", [LATE])
    update_index(seeds, index_dir, SETTINGS, lambda: encoder, detector=detector)
    assert live_centroids(index_dir).counts == {"de": 1, "en": 2, "ru": 1}
    assert_same_statistics(live_centroids(index_dir), fresh())
    (seeds / "feed.jsonl").unlink()
    update_index(seeds, index_dir, SETTINGS, lambda: encoder, detector=detector)
    assert live_centroids(index_dir).counts == {"en": 1}
    assert_same_statistics(live_centroids(index_dir), fresh())


def test_the_dense_side_takes_the_language_bias_out(backend_name, tmp_path, detector):
    # Every paragraph of a language shares its function words, as a multilingual encoder's
    # vectors share a language component. The English question names only what two
    # paragraphs are about, one English and one German, yet raw cosine prefers any English
    # paragraph to the German one: five shared function words outweigh two shared names.
    english, german = "the of and in to", "der die und das zu"
    rows = [{"id": f"en{i}", "title": "-", "lang": "en", "text": f"{english} alpha{i} beta{i}"}
            for i in range(MIN_PARAGRAPHS - 1)]
    rows += [{"id": f"de{i}", "title": "-", "lang": "de", "text": f"{german} gamma{i} delta{i}"}
             for i in range(MIN_PARAGRAPHS - 1)]
    rows += [{"id": "en-lava", "title": "-", "lang": "en", "text": f"{english} lava asche"},
             {"id": "de-lava", "title": "-", "lang": "de", "text": f"{german} lava asche"}]
    write_feed(tmp_path / "seeds", "feed.jsonl", rows)
    encoder = FakeEncoder(dim=256)
    update_index(tmp_path / "seeds", tmp_path / "idx", SETTINGS, lambda: encoder,
                 detector=detector, backend=backend_name)
    second: dict[tuple[Mode, bool], str] = {}
    for centering in (True, False):
        # No lifting of translations: the two lava paragraphs may be grouped.
        settings = Settings(model="fake", language_centering=centering,
                            translation_weight=0.0)
        with Engine(tmp_path / "idx", settings, encoder_factory=lambda model: encoder,
                    detector=detector).open() as engine:
            for mode in (Mode.SEMANTIC, Mode.HYBRID):
                page = engine.search(Query(f"{english} lava asche", mode=mode, lang="en"))
                assert keys(page)[0] == "en-lava"
                second[mode, centering] = keys(page)[1]
    # Semantic mode: the one list is corrected. Hybrid: the search for the best passage's
    # translations (dense feedback) is, while the first pass keeps raw cosine.
    for mode in (Mode.SEMANTIC, Mode.HYBRID):
        assert second[mode, True] == "de-lava"
        assert second[mode, False].startswith("en")
