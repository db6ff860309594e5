"""Turning ranked paragraphs into hits: their records, highlighting and explanation."""

from __future__ import annotations

from collections.abc import Sequence

from search.backends.base import GenerationReader
from search.ranking.fusion import Fused
from search.ranking.highlight import highlight_and_snippet
from search.ranking.query import Understood
from search.records import ArticleRecord, ParagraphRecord
from search.results import Explanation, Hit


def build_hits(shown: Sequence[Fused], q: Understood, reader: GenerationReader) -> list[Hit]:
    """The hits of one page, reading each paragraph's text and each article once."""
    records = reader.paragraphs([f.pid for f in shown])
    articles = reader.articles([p.article_id for p in records])
    return [_hit(f, p, a, q) for f, p, a in zip(shown, records, articles, strict=True)]


def _hit(fused: Fused, paragraph: ParagraphRecord, article: ArticleRecord | None,
         q: Understood) -> Hit:
    if article is None:  # a reader always holds the articles of its paragraphs
        raise KeyError(paragraph.article_id)
    marked, cut = highlight_and_snippet(paragraph.text, q.text, paragraph.lang, q.lang)
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
        score=round(fused.score, 6),
        explain=Explanation(fused.keyword_rank, fused.keyword_score, fused.semantic_rank,
                            fused.semantic_score, fused.score),
    )


def best_per_article(fused: Sequence[Fused], reader: GenerationReader) -> list[Fused]:
    """Each article's best-ranked paragraph, in rank order."""
    seen: set[str] = set()
    best = []
    for item, article_id in zip(fused, reader.article_ids([f.pid for f in fused]), strict=True):
        if article_id not in seen:
            seen.add(article_id)
            best.append(item)
    return best
