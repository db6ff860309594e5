"""The JSON shapes of search results, articles and stats, shared by the CLI and the web API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from search.index.summary import IndexSummary
from search.results import ArticleView, Hit, IndexStats, SearchPage


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
        },
        "page": page.page,
        "size": page.size,
        "total": page.total,
        "total_relation": page.total_relation,
        "took_ms": page.took_ms,
        "generation": page.generation,
        "results": [hit_to_dict(hit) for hit in page.hits],
        "closest": [hit_to_dict(hit) for hit in page.closest],
        "facets": asdict(page.facets),
    }


def article_to_dict(view: ArticleView) -> dict[str, Any]:
    article = asdict(view.article)
    article.pop("paragraph_pids")
    article["paragraphs"] = [
        {"paragraph_id": p.paragraph_id, "position": p.position,
         "lang": p.lang, "text": p.text}
        for p in view.paragraphs
    ]
    return article


def stats_to_dict(stats: IndexStats) -> dict[str, Any]:
    return asdict(stats)


def summary_to_dict(summary: IndexSummary) -> dict[str, Any]:
    return summary.to_dict()
