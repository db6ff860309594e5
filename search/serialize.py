"""The JSON shapes of search results, articles and stats, shared by the CLI and the web API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from search.index.summary import IndexSummary
from search.investigate.timeline import dates_facet
from search.records import ArticleRecord, ParagraphRecord
from search.results import ArticleView, Hit, IndexStats, ParagraphView, SearchPage, Similar


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    return {
        "paragraph_id": hit.paragraph_id,
        "article_id": hit.article_id,
        "title": hit.title,
        "lang": hit.lang,
        "date": hit.date,
        "source": hit.source,
        "place": hit.place,
        "url": hit.url,
        "position": hit.position,
        "text": hit.text,
        "snippet": hit.snippet,
        "highlighted": hit.highlighted,
        "score": hit.score,
        "explain": asdict(hit.explain),
        "translations": [asdict(t) for t in hit.translations],
    }


def page_to_dict(page: SearchPage) -> dict[str, Any]:
    q = page.query
    return {
        "query": {
            "text": q.text,
            "lang": q.lang,
            "lang_detected": q.lang_detected,
            "mode": q.mode.value,
            "fusion": q.fusion.value if q.fusion else None,
            "alpha": q.alpha,
            "filters": asdict(q.filters),
            "one_per_article": q.one_per_article,
            "sort": q.sort.value,
            "recency": q.recency,
            "collapse": q.collapse.value,
        },
        "page": page.page,
        "size": page.size,
        "total": page.total,
        "total_relation": page.total_relation,
        "listed": page.listed,
        "took_ms": page.took_ms,
        "generation": page.generation,
        "results": [hit_to_dict(hit) for hit in page.hits],
        "closest": [hit_to_dict(hit) for hit in page.closest],
        # The matches over time by the interval their span suggests (search.investigate).
        "facets": asdict(page.facets) | dates_facet(page.facets.dates),
    }


def article_to_dict(view: ArticleView) -> dict[str, Any]:
    article = asdict(view.article)
    article.pop("paragraph_pids")
    article["paragraphs"] = [
        {"paragraph_id": p.paragraph_id, "position": p.position,
         "lang": p.lang, "text": p.text}
        for p in view.paragraphs
    ]
    article["versions"] = [_article_ref(version) for version in view.versions]
    return article


def _article_ref(article: ArticleRecord) -> dict[str, Any]:
    return {"id": article.id, "title": article.title, "lang": article.lang,
            "date": article.date}


def _paragraph(paragraph: ParagraphRecord, article: ArticleRecord) -> dict[str, Any]:
    return {"paragraph_id": paragraph.paragraph_id, "article_id": article.id,
            "title": article.title, "lang": paragraph.lang, "date": article.date,
            "source": article.source, "position": paragraph.position,
            "text": paragraph.text}


def paragraph_to_dict(view: ParagraphView) -> dict[str, Any]:
    return _paragraph(view.paragraph, view.article) | {
        "translations": [asdict(t) for t in view.translations]}


def similar_to_dict(paragraph_id: str, found: list[Similar]) -> dict[str, Any]:
    return {"paragraph_id": paragraph_id,
            "results": [_paragraph(s.paragraph, s.article)
                        | {"score": s.score, "translation": s.translation} for s in found]}


def stats_to_dict(stats: IndexStats) -> dict[str, Any]:
    return asdict(stats)


def summary_to_dict(summary: IndexSummary) -> dict[str, Any]:
    return summary.to_dict()
