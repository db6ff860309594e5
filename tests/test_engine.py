"""Queries against a small multilingual index: modes, filters, paging, validation."""

from __future__ import annotations

import json

import pytest
from conftest import write

from search.config import Settings
from search.engine import Engine
from search.errors import ArticleNotFound, InvalidQuery
from search.index.updater import update_index
from search.ranking.query import Mode, Query
from search.records import Filters

ARTICLES = [
    {"id": "a", "title": "Talks", "lang": "en", "date": "2025-07-22", "source": "Wire",
     "text": "Ukraine and Russia will hold peace talks in Istanbul on Wednesday."},
    {"id": "b", "title": "Prisoners", "lang": "en", "date": "2025-06-01", "source": "Daily",
     "text": "The talks will center on a further exchange of prisoners of war."},
    {"id": "c", "title": "Переговоры", "lang": "ru", "date": "2025-07-23", "source": "Wire",
     "text": "Переговоры в Стамбуле будут посвящены обмену пленными между сторонами."},
    {"id": "d", "title": "Wetter", "lang": "de", "source": "Daily",
     "text": "Am Wochenende wird in Berlin starker Regen mit Gewittern erwartet."},
] + [
    {"id": f"n{n}", "title": f"Note {n}", "lang": "en",
     "text": f"Short market note number {n} about talks and prices in region {n}."}
    for n in range(30)
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from conftest import FakeEncoder

    encoder = FakeEncoder()
    root = tmp_path_factory.mktemp("engine")
    write(root / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in ARTICLES))
    update_index(root / "seeds", root / "idx", Settings(model="fake"), lambda: encoder)
    engine = Engine(root / "idx", encoder_factory=lambda model: encoder).open()
    yield engine
    engine.close()


def ids(page):
    return [hit.article_id.split("#")[1] for hit in page.hits]


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_finds_the_obvious_paragraph(engine, mode):
    page = engine.search(Query("peace talks Istanbul Wednesday", mode=mode))
    assert ids(page)[0] == "a"
    assert page.query.mode is mode


def test_hits_explain_both_rankings(engine):
    page = engine.search(Query("peace talks Istanbul Wednesday", fusion="rrf"))
    top = page.hits[0].explain
    assert top.keyword_rank == 1 and top.semantic_rank == 1
    # The shown score is the query's best evidence times the hit's relative fused score.
    assert top.fused_score == pytest.approx(1 / 61 + 1 / 61 * 0, abs=1e-2)
    assert page.hits[0].score == pytest.approx(top.evidence) and top.coverage == 1.0
    assert page.query.fusion.value == "rrf" and page.query.alpha == 0.5


def test_detects_the_query_language_and_accepts_an_override(engine):
    assert engine.search(Query("обмен пленными")).query.lang == "ru"
    page = engine.search(Query("обмен пленными", lang="ru", mode=Mode.KEYWORD))
    assert not page.query.lang_detected and ids(page)[0] == "c"


@pytest.mark.parametrize(
    "filters, expected",
    [
        (Filters(languages=("ru",)), {"c"}),
        (Filters(sources=("Daily",)), {"b", "d"}),
        (Filters(date_from="2025-07-01"), {"a", "c"}),
        (Filters(date_to="2025-06-30"), {"b"}),
        (Filters(article_ids=("feed.jsonl#b",)), {"b"}),
    ],
)
@pytest.mark.parametrize("mode", list(Mode))
def test_filters_apply_to_every_mode(engine, filters, expected, mode):
    page = engine.search(Query("talks prisoners Стамбуле Regen", mode=mode, filters=filters))
    # A paragraph holding one of these four words is no match; when none matches, the
    # closest paragraphs stand in, and they too pass the filters.
    shown = ids(page) + [hit.article_id.split("#")[1] for hit in page.closest]
    assert set(shown) <= expected and shown


def test_pages_are_stable_and_add_up(engine):
    whole = engine.search(Query("market note talks", size=20))
    first = engine.search(Query("market note talks", size=10))
    second = engine.search(Query("market note talks", size=10, page=2))
    assert ids(first) + ids(second) == ids(whole)
    assert first.total == whole.total >= 20


def test_one_hit_per_article(engine):
    page = engine.search(Query("talks", size=50, one_per_article=True))
    assert len(ids(page)) == len(set(ids(page)))


def test_snippets_mark_terms_and_escape_html(engine):
    hit = engine.search(Query("<b>prisoners</b>", mode=Mode.KEYWORD)).hits[0]
    assert "<mark>prisoners</mark>" in hit.highlighted
    assert "<b>" not in hit.highlighted


@pytest.mark.parametrize(
    "query, message",
    [
        (Query(""), "empty"),
        (Query("   "), "empty"),
        (Query("x" * 10_000), "limit is"),
        (Query("talks", page=0), "page"),
        (Query("talks", size=0), "size"),
        (Query("talks", size=1000), "size"),
        (Query("talks", alpha=2.0), "alpha"),
        (Query("talks", fusion="magic"), "fusion"),
        (Query("talks", filters=Filters(languages=("xx",))), "the index has: de, en, ru"),
        (Query("talks", filters=Filters(date_from="yesterday")), "date"),
        (Query("talks", lang="not a language"), "language code"),
    ],
)
def test_bad_queries_are_clear_errors(engine, query, message):
    with pytest.raises(InvalidQuery, match=message):
        engine.search(query)


@pytest.mark.parametrize("text", ["???", "*:*", "AND OR NOT", '"unbalanced', "title:foo",
                                  "\x00\x01", "\ud800", "🙂🙂", "a" * 2000])
@pytest.mark.parametrize("mode", list(Mode))
def test_query_syntax_is_just_text(engine, text, mode):
    page = engine.search(Query(text, mode=mode))
    assert page.total >= 0 and all(hit.text for hit in page.hits)


def test_articles_by_id(engine):
    view = engine.article("feed.jsonl#c")
    assert view.article.title == "Переговоры" and view.article.lang == "ru"
    assert [p.position for p in view.paragraphs] == [0]
    with pytest.raises(ArticleNotFound):
        engine.article("../../etc/passwd")


def test_repeated_query_is_answered_from_the_cache_until_the_generation_changes(tmp_path):
    from conftest import FakeEncoder

    encoder = FakeEncoder()
    write(tmp_path / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in ARTICLES[:4]))
    update_index(tmp_path / "seeds", tmp_path / "idx", Settings(model="fake"), lambda: encoder)
    engine = Engine(tmp_path / "idx", encoder_factory=lambda model: encoder).open()
    try:
        first = engine.search(Query("peace talks Istanbul"))
        calls = encoder.calls
        again = engine.search(Query("  peace talks Istanbul "))  # the same query once stripped
        assert encoder.calls == calls  # nothing encoded: the page came from the cache
        assert again.hits == first.hits and again.generation == first.generation
        assert engine.search(Query("peace talks Istanbul", page=2)).hits != first.hits
        write(tmp_path / "seeds" / "more.jsonl", json.dumps(
            {"id": "z", "title": "Istanbul", "lang": "en",
             "text": "Peace talks in Istanbul resumed, and the talks went on all night."}))
        update_index(tmp_path / "seeds", tmp_path / "idx", Settings(model="fake"),
                     lambda: encoder)
        engine.refresh()
        newer = engine.search(Query("peace talks Istanbul"))
        assert newer.generation != first.generation and encoder.calls > calls
        assert "more.jsonl#z" in [hit.article_id for hit in newer.hits]
    finally:
        engine.close()
    uncached = Engine(tmp_path / "idx", Settings(result_cache=0),
                      encoder_factory=lambda model: encoder).open()
    try:
        calls = encoder.calls
        uncached.search(Query("peace talks Istanbul"))
        uncached.search(Query("peace talks Istanbul"))
        assert encoder.calls == calls + 2
    finally:
        uncached.close()


@pytest.mark.parametrize("allowed", [1, 3])
def test_at_most_concurrent_searches_are_computed_at_once(tmp_path, monkeypatch, allowed):
    import threading
    import time

    from conftest import FakeEncoder

    encoder = FakeEncoder()
    write(tmp_path / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in ARTICLES[:4]))
    update_index(tmp_path / "seeds", tmp_path / "idx", Settings(model="fake"), lambda: encoder)
    engine = Engine(tmp_path / "idx", Settings(concurrent_searches=allowed),
                    encoder_factory=lambda model: encoder).open()
    running, most = 0, 0
    lock = threading.Lock()
    import search.engine

    rank = search.engine.rank

    def slow_rank(*args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)  # long enough for every thread to arrive meanwhile
        with lock:
            running -= 1
        return rank(*args, **kwargs)

    monkeypatch.setattr(search.engine, "rank", slow_rank)
    try:
        threads = [threading.Thread(target=engine.search, args=(Query(f"talks {n}"),))
                   for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        engine.close()
    assert most == allowed
