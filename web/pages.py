"""HTML pages: the search form and results, and one article with a paragraph targeted."""

from __future__ import annotations

import calendar
import logging
import math
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, g, render_template, request, url_for

from search.errors import InvalidQuery, SearchError
from search.ranking.ordering import Collapse, Sort
from search.ranking.query import Mode
from search.results import UNDATED, IndexStats, SearchPage

from .params import SEARCH_PARAMETERS, parse_query
from .services import get_services
from .timeline import timeline_chart

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)

RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ku", "ps", "sd", "ug",
                           "ur", "yi"})
LANGUAGE_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan",
    "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian",
    "ms": "Malay", "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian",
    "sv": "Swedish", "sw": "Swahili", "th": "Thai", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese", "und": "Undetermined",
}
MODE_LABELS = {Mode.HYBRID: "Hybrid", Mode.KEYWORD: "Keyword", Mode.SEMANTIC: "Semantic"}
SORT_LABELS = {Sort.RELEVANCE: "Relevance", Sort.DATE: "Newest first"}
COLLAPSE_LABELS = {Collapse.TRANSLATIONS: "Each story once", Collapse.NONE: "Every language apart"}


def text_dir(lang: str | None) -> str:
    """The dir attribute for text in `lang`: rtl where known, else let the browser decide."""
    return "rtl" if lang in RTL_LANGUAGES else "auto"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def safe_url(url: str | None) -> str | None:
    """Only web links from seed files become links (never javascript: or data:)."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


@bp.app_context_processor
def page_helpers() -> dict[str, Any]:
    return {"text_dir": text_dir, "language_name": language_name, "safe_url": safe_url,
            "index_status": _index_status()}


def _index_status() -> IndexStats | None:
    """The index's stats, asked once per request (the footer and the filters both show
    them)."""
    if "index_status" not in g:
        try:
            g.index_status = get_services().engine.stats()
        except (SearchError, RuntimeError) as exc:  # the footer must never break a page
            log.warning("index status unavailable: %s", exc)
            g.index_status = None
    status: IndexStats | None = g.index_status
    return status


@bp.get("/")
def search() -> str | tuple[str, int]:
    """The search form; with ?q=..., the results under it. Works without JavaScript."""
    found = get_services()
    args = request.args
    text = args.get("q", "")
    form = {
        "q": text,
        "mode": args.get("mode") if args.get("mode") in set(Mode) else Mode.HYBRID.value,
        "langs": args.getlist("lang"),
        "sources": args.getlist("source"),
        "sort": args.get("sort") if args.get("sort") in set(Sort) else Sort.RELEVANCE.value,
        "recency": args.get("recency", ""),
        "collapse": (args.get("collapse") if args.get("collapse") in set(Collapse)
                     else Collapse.TRANSLATIONS.value),
        "date_from": args.get("date_from", ""),
        "date_to": args.get("date_to", ""),
    }
    context = {"form": form, "modes": MODE_LABELS, "sorts": SORT_LABELS,
               "collapses": COLLAPSE_LABELS,
               "languages": _languages()}
    if not text.strip():
        return render_template("search.html", blank="q" in args, **context)
    try:
        page = found.engine.search(
            parse_query(args, found.settings, Collapse.TRANSLATIONS))
    except InvalidQuery as exc:
        return render_template("search.html", error=str(exc), **context), 400
    return render_template("search.html", page=page, pages=_pagination(page),
                           months=_month_links(page), chart=timeline_chart(page), **context)


def _languages() -> list[str]:
    status = _index_status()
    return sorted(status.languages) if status else []


def _month_links(page: SearchPage) -> list[tuple[str, int, str | None]]:
    """Each month facet (label, count, link restricting the search to that month; None for
    undated articles, which no date range admits)."""
    kept = [(k, v) for k, v in request.args.items(multi=True)
            if k in SEARCH_PARAMETERS and k not in ("date_from", "date_to")]
    links: list[tuple[str, int, str | None]] = []
    for month, count in page.facets.months.items():
        if month == UNDATED:
            links.append(("undated", count, None))
            continue
        year, number = int(month[:4]), int(month[5:7])
        last_day = calendar.monthrange(year, number)[1]
        query = [*kept, ("date_from", f"{month}-01"), ("date_to", f"{month}-{last_day:02d}")]
        links.append((month, count, url_for("pages.search") + "?" + urlencode(query)))
    return links


def _pagination(page: SearchPage) -> dict[str, Any]:
    last = min(max(math.ceil(page.listed / page.size), 1), get_services().settings.max_page)

    # Only the search's own parameters are carried over (never url_for's _external etc.).
    kept = [(k, v) for k, v in request.args.items(multi=True) if k in SEARCH_PARAMETERS]

    def link(number: int) -> str:
        return url_for("pages.search") + "?" + urlencode([*kept, ("page", number)])

    window = range(max(1, page.page - 3), min(last, page.page + 3) + 1)
    return {
        "last": last,
        "first_rank": (page.page - 1) * page.size + 1,
        "previous": link(page.page - 1) if page.page > 1 else None,
        "next": link(page.page + 1) if page.page < last else None,
        "last_link": link(last),
        "numbers": [(n, link(n)) for n in window],
    }


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> str:
    """One article, every paragraph in order; #p<position> targets (and highlights) one."""
    view = get_services().engine.article(article_id)
    return render_template("article.html", view=view)
