"""Stories: a paragraph whose translation group already holds one of an alert's hits joins
that hit as a translation, in the same generation or a later one, matched or not."""

from __future__ import annotations

from search.alerts import AlertKind, AlertStore, Why
from search.alerts.evaluate import NewParagraph
from search.alerts.records import AlertMatches, Match
from search.alerts.stories import record
from search.ranking.query import Mode
from search.records import ArticleRecord, Filters, ParagraphRecord


def _paragraph(pid: int, lang: str) -> NewParagraph:
    article = f"story.{lang}.txt"
    return NewParagraph(ParagraphRecord(pid, article, 0, 0, 10, f"text {lang}", lang),
                        ArticleRecord(article, article, f"title {lang}", None, None, None,
                                      None, lang, (pid,)))


def test_translations_join_their_story_and_deliveries_name_the_hit(tmp_path):
    with AlertStore(tmp_path) as store:
        alert = store.add("talks", AlertKind.QUERY, "talks", Mode.HYBRID, Filters(), 1,
                          webhook_url="http://127.0.0.1:9/")
        other = store.add("other", AlertKind.QUERY, "x", Mode.HYBRID, Filters(), 1)
        # Generation 1: the English paragraph (1) matches; 2 is unrelated.
        first = record(store, "g000001", 1, 3, [alert, other],
                       AlertMatches.of([Match(alert.id, 1, 0.7, Why(cosine=0.4))]),
                       {1: _paragraph(1, "en"), 2: _paragraph(2, "fr")}, {})
        assert (first.hits, first.translations, first.deliveries) == (1, 0, 1)
        # Generation 2: Russian (3) matches and German (4) does not; both translate 1.
        second = record(store, "g000002", 3, 5, [alert, other],
                        AlertMatches.of([Match(alert.id, 3, 0.6, Why(cosine=0.35))]),
                        {3: _paragraph(3, "ru"), 4: _paragraph(4, "de")},
                        {3: [1, 4], 4: [1, 3]})
        assert (second.hits, second.translations) == (0, 2)
        [hit] = store.hits(alert.id)
        assert hit.paragraph_id == "story.en.txt:0"
        assert [(t.lang, t.generation, t.why.cosine) for t in hit.translations] == [
            ("ru", "g000002", 0.35), ("de", "g000002", None)]
        assert store.hits(other.id) == []
        assert [(d.generation, [h.id for h in d.hits]) for d in store.pending()] == [
            ("g000001", [hit.id]), ("g000002", [hit.id])]
        # The same paragraphs evaluated again (a second process): nothing is recorded twice.
        again = record(store, "g000002", 3, 5, [alert],
                       AlertMatches.of([Match(alert.id, 3, 0.6, Why())]),
                       {3: _paragraph(3, "ru")}, {3: [1]})
        assert again.skipped and len(store.hits(alert.id)[0].translations) == 2
        assert store.watermark() == 5


def test_a_translation_joins_every_alert_s_story_and_is_kept_once(tmp_path):
    import sqlite3

    with AlertStore(tmp_path) as store:
        talks = store.add("talks", AlertKind.QUERY, "talks", Mode.HYBRID, Filters(), 1)
        deal = store.add("deal", AlertKind.QUERY, "deal", Mode.HYBRID, Filters(), 1)
        # Generation 1: English (1) matches "talks", French (2), its translation, "deal".
        record(store, "g000001", 1, 3, [talks, deal],
               AlertMatches.of([Match(talks.id, 1, 0.7, Why(cosine=0.4)),
                           Match(deal.id, 2, 0.6, Why())]),
               {1: _paragraph(1, "en"), 2: _paragraph(2, "fr")}, {1: [2], 2: [1]})
        # Generation 2: German (3), matching neither, joins both alerts' hits.
        second = record(store, "g000002", 3, 4, [talks, deal], AlertMatches(),
                        {3: _paragraph(3, "de")}, {3: [1, 2]})
        assert (second.hits, second.translations, second.deliveries) == (0, 2, 0)
        [on_talks], [on_deal] = store.hits(talks.id), store.hits(deal.id)
        assert [t.lang for t in on_talks.translations] == ["fr", "de"]
        assert [t.lang for t in on_deal.translations] == ["en", "de"]
    kept = sqlite3.connect(tmp_path / "alerts.sqlite").execute(
        "SELECT lang, count(*) FROM paragraphs GROUP BY lang ORDER BY lang").fetchall()
    assert kept == [("de", 1), ("en", 1), ("fr", 1)]


def test_removing_an_alert_drops_the_paragraphs_only_its_stories_held(tmp_path):
    import sqlite3

    with AlertStore(tmp_path) as store:
        talks = store.add("talks", AlertKind.QUERY, "talks", Mode.HYBRID, Filters(), 1)
        deal = store.add("deal", AlertKind.QUERY, "deal", Mode.HYBRID, Filters(), 1)
        record(store, "g000001", 1, 4, [talks, deal],
               AlertMatches.of([Match(talks.id, 1, 0.7, Why()), Match(deal.id, 3, 0.6, Why())]),
               {1: _paragraph(1, "en"), 2: _paragraph(2, "fr"), 3: _paragraph(3, "de")},
               {1: [2], 2: [1]})
        store.remove("talks")
        assert [(h.lang, len(h.translations)) for h in store.hits(deal.id)] == [("de", 0)]
    kept = sqlite3.connect(tmp_path / "alerts.sqlite").execute(
        "SELECT lang FROM paragraphs").fetchall()
    assert kept == [("de",)]
