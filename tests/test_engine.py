"""Queries against a small multilingual index: modes, filters, paging, validation."""

from __future__ import annotations

import json

import pytest
from helpers import write

from search.config import Settings
from search.engine import Engine
from search.errors import ArticleNotFound, InvalidQuery
from search.index.updater import update_index
from search.ranking.fusion import FusionMethod
from search.ranking.ordering import Collapse, Sort
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
    from helpers import FakeEncoder

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
    # RRF with k = 60 and weight 1/2 a side, first on both: 0.5 / 61 + 0.5 / 61.
    assert top.fused_score == pytest.approx(0.5 / 61 + 0.5 / 61, rel=1e-6)
    # The shown score is the query's best evidence times the hit's relative fused score.
    assert page.hits[0].score == pytest.approx(top.evidence) and top.coverage == 1.0
    assert page.query.fusion.value == "rrf" and page.query.alpha == 0.5


@pytest.mark.parametrize(("option", "kind"), [
    ("mode", Mode), ("fusion", FusionMethod), ("sort", Sort), ("collapse", Collapse)])
def test_every_choice_may_be_given_as_a_string(engine, option, kind):
    """The Python API converts every enum-valued option from its value, as the CLI and the
    web layer pass them, and names the allowed values when one is wrong."""
    for member in kind:
        page = engine.search(Query("peace talks Istanbul", **{option: member.value}))
        assert getattr(page.query, option) is member
    allowed = ", ".join(member.value for member in kind)
    for wrong in ("bogus", "", 3, ["rrf"]):
        with pytest.raises(InvalidQuery, match=f"^{option} must be one of {allowed}, not "):
            engine.search(Query("peace talks Istanbul", **{option: wrong}))


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
    from helpers import FakeEncoder

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

    from helpers import FakeEncoder

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


# -- matches, totals, facets, sort and recency ------------------------------------------------

def test_total_counts_matches_and_facets_count_all_of_them(engine):
    page = engine.search(Query("market note talks", size=5, mode=Mode.KEYWORD))
    assert page.total_relation == "eq" and page.total >= 30 and len(page.hits) == 5
    assert sum(page.facets.languages.values()) == page.total  # all matches, not the page
    assert page.facets.months["none"] >= 30 and list(page.facets.months)[-1] == "none"
    assert page.facets.sources["none"] >= 30


def test_facets_count_months_and_sources_of_the_matches(engine):
    page = engine.search(Query("talks prisoners", mode=Mode.KEYWORD, lang="en",
                               filters=Filters(languages=("en",), sources=("Wire", "Daily"))))
    assert ids(page) and set(ids(page)) <= {"a", "b"}
    assert page.facets.languages == {"en": page.total}
    assert set(page.facets.months) <= {"2025-07", "2025-06"}
    assert set(page.facets.sources) <= {"Wire", "Daily"}


def test_a_total_is_a_lower_bound_when_a_window_fills(engine):
    small = Engine(engine.index_dir, Settings(count_window=5, window=5),
                   encoder_factory=lambda model: engine.encoder()).open()
    try:
        page = small.search(Query("market note talks", mode=Mode.KEYWORD))
    finally:
        small.close()
    # Each side gives max(count_window, page * size) = 10 candidates.
    assert page.total_relation == "gte" and 5 <= page.total <= 10


def test_an_absent_topic_has_no_results_but_its_closest_paragraphs(engine):
    page = engine.search(Query("volcanic eruption glacier avalanche"))
    assert page.total == 0 and page.hits == [] and page.facets.languages == {}
    assert 1 <= len(page.closest) <= page.size
    assert all(hit.score < 0.5 and hit.explain.evidence < 0.5 for hit in page.closest)


def test_shown_scores_are_the_best_evidence_times_the_relative_fused_score(engine):
    page = engine.search(Query("peace talks Istanbul Wednesday", size=20))
    top = page.hits[0]
    assert top.explain.coverage == 1.0 and top.score == pytest.approx(1.0)
    assert [h.score for h in page.hits] == sorted((h.score for h in page.hits), reverse=True)
    # The matches are counted; weaker candidates of the ranking may follow them.
    matched = [hit for hit in page.hits if hit.explain.evidence >= 0.5]
    assert matched and len(matched) <= page.total
    weak = engine.search(Query("peace elephants", size=20, mode=Mode.KEYWORD))
    assert weak.hits and weak.hits[0].score == pytest.approx(0.5)  # one word of two


def test_sort_by_date_lists_newest_first_and_undated_last(engine):
    page = engine.search(Query("talks", size=40, sort="date", mode=Mode.KEYWORD))
    dates = [hit.date for hit in page.hits]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True) and dated[0] == "2025-07-22"
    assert dates.index(None) == len(dated)  # every undated one after every dated one
    assert page.total == engine.search(Query("talks", mode=Mode.KEYWORD)).total


def test_recency_favours_recent_articles_counted_from_an_injected_day(engine, tmp_path):
    from datetime import date

    def search_on(day: date, recency: float | None) -> list[str]:
        dated = Engine(engine.index_dir, encoder_factory=lambda model: engine.encoder(),
                       today=lambda: day).open()
        try:
            page = dated.search(Query("talks prisoners exchange Istanbul", mode=Mode.KEYWORD,
                                      lang="en", recency=recency,
                                      filters=Filters(article_ids=("feed.jsonl#a",
                                                                   "feed.jsonl#b"))))
        finally:
            dated.close()
        assert all(hit.explain.recency is not None for hit in page.hits) == (recency is not None)
        return ids(page)

    assert search_on(date(2025, 7, 22), None)[0] == "b"  # "exchange of prisoners"
    # b is 51 days older than a: with a 7-day half-life its score falls by 2 ** -7.
    assert search_on(date(2025, 7, 22), 7.0)[0] == "a"
    assert search_on(date(2025, 7, 22), 36_500.0)[0] == "b"  # a century: next to no boost


@pytest.mark.parametrize(("query", "message"), [
    (Query("talks", sort="newest"), "sort must be one of relevance, date"),
    (Query("talks", recency=0), "recency must be a half-life in days"),
    (Query("talks", recency=-3), "recency must be a half-life in days"),
    (Query("talks", recency=float("nan")), "recency must be a half-life in days"),
    (Query("talks", recency=1e9), "at most 36500"),
])
def test_sort_and_recency_are_checked(engine, query, message):
    with pytest.raises(InvalidQuery, match=message):
        engine.search(query)
