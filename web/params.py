"""Reading search parameters from a query string into a search.ranking.query.Query.

Shared by the search page and the JSON API. This only turns strings into types (a value
that is not a number or a flag is refused here); choices (mode, fusion, sort, collapse) go
through as given, and the engine checks every value (`understand`).
"""

from __future__ import annotations

import regex
from werkzeug.datastructures import MultiDict

from search.config import Settings
from search.errors import InvalidQuery
from search.ranking.ordering import Collapse, Sort
from search.ranking.query import Mode, Query
from search.records import Filters

SEARCH_PARAMETERS = ("q", "mode", "lang", "source", "query_lang", "size", "fusion", "alpha",
                     "date_from", "date_to", "one_per_article", "sort",
                     "recency", "collapse")  # and page
_INTEGER = regex.compile(r"^[+-]?[0-9]+$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _integer(args: MultiDict, name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        if not _INTEGER.fullmatch(raw):
            raise ValueError
        return int(raw)
    except ValueError:  # also for digit strings too long to convert
        raise InvalidQuery(f"{name} must be a whole number, not {_shown(raw)}") from None


def _number(args: MultiDict, name: str, meaning: str) -> float | None:
    raw = args.get(name)
    if raw is None or (name == "recency" and not raw.strip()):  # the page's empty field
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be {meaning}, not {_shown(raw)}") from None


def _flag(args: MultiDict, name: str) -> bool:
    raw = args.get(name)
    if raw is None:
        return False
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise InvalidQuery(f"{name} must be true or false, not {_shown(raw)}")


def parse_query(args: MultiDict, settings: Settings,
                default_collapse: Collapse = Collapse.NONE) -> Query:
    """The Query a search page URL or /api/search call asks for; `collapse` defaults to
    `default_collapse` (the page shows each story once, the API every paragraph)."""
    text = args.get("q")
    if text is None:
        raise InvalidQuery("q is required: the words to search for, e.g. ?q=prisoner+exchange")
    return Query(
        text=text,
        mode=args.get("mode", Mode.HYBRID),
        lang=args.get("query_lang"),
        filters=Filters(
            languages=tuple(args.getlist("lang")),
            sources=tuple(args.getlist("source")),
            date_from=args.get("date_from"),
            date_to=args.get("date_to"),
        ),
        page=_integer(args, "page", 1),
        size=_integer(args, "size", settings.page_size),
        fusion=args.get("fusion") or None,  # an empty field: the default
        alpha=_number(args, "alpha", "a number between 0 and 1"),
        one_per_article=_flag(args, "one_per_article"),
        sort=args.get("sort") or Sort.RELEVANCE,
        recency=_number(args, "recency", "a half-life in days, a number above 0"),
        collapse=args.get("collapse") or default_collapse,
    )


def parse_size(args: MultiDict, settings: Settings) -> int:
    """The `size` of a list that is not a search (the engine checks its range)."""
    return _integer(args, "size", settings.page_size)
