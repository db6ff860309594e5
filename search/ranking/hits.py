"""Turning ranked paragraphs into hits: their records, highlighting and explanation."""

from __future__ import annotations

from collections.abc import Sequence

from search.backends.base import GenerationReader
from search.ranking.explain import explain_terms
from search.ranking.fusion import Fused
from search.ranking.highlight import highlight_and_snippet
from search.ranking.known import KnownFacts
from search.ranking.listing import Listed
from search.ranking.query import Mode, Understood
from search.ranking.word_forms import WordForms
from search.records import ParagraphFacts, ParagraphRecord
from search.results import Explanation, Hit, Translation


def build_hits(shown: Sequence[Fused | Listed], q: Understood, reader: GenerationReader,
               known: KnownFacts, whole: int | None = None, words: WordForms | None = None
               ) -> list[Hit]:
    """The hits of one page: their texts in one call (the rest is known). A `Fused` item
    shows its fused score; a `Listed` one its own shown score and evidence. Only the first
    `whole` (None: all) are highlighted, cut to a snippet and given their translations; the
    others carry their text and explanation alone (what a batch reads of them). `words`:
    a batch's table of its hits' words (search.ranking.word_forms); None: the memo."""
    if not shown:
        return []
    listed = [item if isinstance(item, Listed) else
              Listed(item, item.score, None, None, None) for item in shown]
    pids = [item.fused.pid for item in listed]
    records = reader.paragraphs(pids)
    facts = known.of(pids)
    whole = len(pids) if whole is None else min(whole, len(pids))
    groups = known.translations(pids[:whole]) + [()] * (len(pids) - whole)
    return [_hit(item, p, f, q, g, at < whole, words) for at, (item, p, f, g)
            in enumerate(zip(listed, records, facts, groups, strict=True))]


def _hit(item: Listed, paragraph: ParagraphRecord, article: ParagraphFacts,
         q: Understood, group: tuple[Translation, ...], marked_up: bool,
         words: WordForms | None) -> Hit:
    fused = item.fused
    marked, cut = (highlight_and_snippet(paragraph.text, q.text, paragraph.lang, q.lang,
                                         words=words)
                   if marked_up else ("", ""))
    terms = (() if q.mode is Mode.SEMANTIC
             else explain_terms(q.text, paragraph.text, paragraph.lang, q.lang, words))
    return Hit(
        paragraph_id=paragraph.paragraph_id,
        article_id=article.article_id,
        title=article.title,
        lang=paragraph.lang,
        date=article.date,
        source=article.source,
        place=article.place,
        url=article.url,
        position=paragraph.position,
        start=paragraph.start,
        end=paragraph.end,
        text=paragraph.text,
        highlighted=marked,
        snippet=cut,
        score=round(item.score, 6),
        explain=Explanation(fused.keyword_rank, fused.keyword_score, fused.semantic_rank,
                            fused.semantic_score, fused.score, item.coverage,
                            item.evidence, item.recency, terms),
        translations=group,
    )
