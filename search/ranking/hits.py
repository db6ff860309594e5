"""Turning ranked paragraphs into hits: their records, highlighting and explanation."""

from __future__ import annotations

from collections.abc import Sequence

from search.backends.base import GenerationReader
from search.ranking.explain import explain_terms
from search.ranking.fusion import Fused
from search.ranking.highlight import highlight_and_snippet
from search.ranking.listing import Listed
from search.ranking.query import Mode, Understood
from search.records import ArticleRecord, ParagraphRecord
from search.results import Explanation, Hit, Translation


def build_hits(shown: Sequence[Fused | Listed], q: Understood,
               reader: GenerationReader) -> list[Hit]:
    """The hits of one page, reading each paragraph's text and each article once. A `Fused`
    item shows its fused score; a `Listed` one its own shown score and evidence."""
    listed = [item if isinstance(item, Listed) else
              Listed(item, item.score, None, None, None) for item in shown]
    pids = [item.fused.pid for item in listed]
    records = reader.paragraphs(pids)
    articles = reader.articles([p.article_id for p in records])
    groups = translations(pids, reader)
    return [_hit(item, p, a, q, g)
            for item, p, a, g in zip(listed, records, articles, groups, strict=True)]


def _hit(item: Listed, paragraph: ParagraphRecord, article: ArticleRecord | None,
         q: Understood, group: tuple[Translation, ...]) -> Hit:
    fused = item.fused
    if article is None:  # a reader always holds the articles of its paragraphs
        raise KeyError(paragraph.article_id)
    marked, cut = highlight_and_snippet(paragraph.text, q.text, paragraph.lang, q.lang)
    terms = (() if q.mode is Mode.SEMANTIC
             else explain_terms(q.text, paragraph.text, paragraph.lang, q.lang))
    return Hit(
        paragraph_id=paragraph.paragraph_id,
        article_id=article.id,
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


def _translation(record: ParagraphRecord, titles: dict[str, str]) -> Translation:
    return Translation(record.paragraph_id, record.article_id, record.position, record.lang,
                       titles.get(record.article_id, ""))


def partners(pids: Sequence[int], reader: GenerationReader) -> list[list[int]]:
    """For each of `pids`, the other members of its translation group (one per language)."""
    groups = reader.groups(pids)
    members = reader.group_members(sorted(set(groups)))
    return [[m for m in members.get(group, ()) if m != pid]
            for pid, group in zip(pids, groups, strict=True)]


def translations(pids: Sequence[int], reader: GenerationReader
                 ) -> list[tuple[Translation, ...]]:
    """For each of `pids`, the other members of its translation group (one per language),
    by language."""
    others = partners(pids, reader)
    wanted = sorted({m for row in others for m in row})
    if not wanted:
        return [() for _ in pids]
    records = dict(zip(wanted, reader.paragraphs(wanted), strict=True))
    article_ids = sorted({r.article_id for r in records.values()})
    titles = {a.id: a.title for a in reader.articles(article_ids) if a is not None}
    return [
        tuple(sorted((_translation(records[m], titles) for m in row),
                     key=lambda t: (t.lang, t.paragraph_id)))
        for row in others
    ]
