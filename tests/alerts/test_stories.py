"""Stories: a paragraph whose translation group already holds one of an alert's hits joins
that hit as a translation, in the same generation or a later one, matched or not."""

from __future__ import annotations

from search.alerts import AlertKind, AlertStore, Why
from search.alerts.evaluate import Match, NewParagraph
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
                       [Match(alert.id, 1, 0.7, Why(cosine=0.4))],
                       {1: _paragraph(1, "en"), 2: _paragraph(2, "fr")}, {})
        assert (first.hits, first.translations, first.deliveries) == (1, 0, 1)
        # Generation 2: Russian (3) matches and German (4) does not; both translate 1.
        second = record(store, "g000002", 3, 5, [alert, other],
                        [Match(alert.id, 3, 0.6, Why(cosine=0.35))],
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
        again = record(store, "g000002", 3, 5, [alert], [Match(alert.id, 3, 0.6, Why())],
                       {3: _paragraph(3, "ru")}, {3: [1]})
        assert again.skipped and len(store.hits(alert.id)[0].translations) == 2
        assert store.watermark() == 5
