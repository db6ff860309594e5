"""Reading search parameters from a query string into a search.query.Query.

Shared by the search page and the JSON API. Every bad value raises InvalidQuery naming the
parameter and what it accepts; the engine then checks what needs the index (languages).
"""

from __future__ import annotations

import math
from datetime import date

import regex
from werkzeug.datastructures import MultiDict

from search.config import Settings
from search.errors import InvalidQuery
from search.ranking.query import Filters, Mode, Query

SEARCH_PARAMETERS = ("q", "mode", "lang", "query_lang", "size", "fusion", "alpha", "date_from",
                     "date_to", "one_per_article")  # and page
MAX_PAGE = 1000  # deeper pages would make each side rank page * size candidates
FUSIONS = ("weighted", "rrf")
LANG_CODE = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"
_LANG_CODE = regex.compile(LANG_CODE)
_ISO_DATE = regex.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_INTEGER = regex.compile(r"^[+-]?[0-9]+$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


def query_text(args: MultiDict, settings: Settings) -> str:
    text = args.get("q")
    if text is None:
        raise InvalidQuery("q is required: the words to search for, e.g. ?q=prisoner+exchange")
    if len(text) > settings.max_query_chars:
        raise InvalidQuery(
            f"the query is {len(text)} characters long; the limit is {settings.max_query_chars}"
        )
    if not text.strip():
        raise InvalidQuery("the query is empty: type a few words to search for")
    return text


def _integer(args: MultiDict, name: str, default: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        if not _INTEGER.fullmatch(raw):
            raise ValueError
        value = int(raw)
    except ValueError:  # also for digit strings too long to convert
        raise InvalidQuery(f"{name} must be a whole number, not {_shown(raw)}") from None
    if not 1 <= value <= high:
        raise InvalidQuery(f"{name} must be between 1 and {high}, not {value}")
    return value


def _choice(args: MultiDict, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        raise InvalidQuery(f"{name} must be one of {', '.join(allowed)}, not {_shown(raw)}")
    return raw


def _alpha(args: MultiDict) -> float | None:
    raw = args.get("alpha")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidQuery(f"alpha must be a number between 0 and 1, not {_shown(raw)}")
    return value


def _date(args: MultiDict, name: str) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        if not _ISO_DATE.fullmatch(raw):
            raise ValueError
        date.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery(f"{name} must be a date like 2025-07-22, not {_shown(raw)}") from None
    return raw


def _language(raw: str, name: str) -> str:
    if not _LANG_CODE.fullmatch(raw):
        raise InvalidQuery(f"{name} must be a language code such as en or zh, not {_shown(raw)}")
    return raw


def _flag(args: MultiDict, name: str) -> bool:
    raw = args.get(name)
    if raw is None:
        return False
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise InvalidQuery(f"{name} must be true or false, not {_shown(raw)}")


def parse_query(args: MultiDict, settings: Settings) -> Query:
    """The Query a search page URL or /api/search call asks for."""
    text = query_text(args, settings)
    mode = _choice(args, "mode", tuple(m.value for m in Mode))
    query_lang = args.get("query_lang")
    return Query(
        text=text,
        mode=Mode(mode) if mode else Mode.HYBRID,
        lang=_language(query_lang, "query_lang") if query_lang is not None else None,
        filters=Filters(
            languages=tuple(_language(code, "lang") for code in args.getlist("lang")),
            date_from=_date(args, "date_from"),
            date_to=_date(args, "date_to"),
        ),
        page=_integer(args, "page", 1, MAX_PAGE),
        size=_integer(args, "size", settings.page_size, settings.max_page_size),
        fusion=_choice(args, "fusion", FUSIONS),
        alpha=_alpha(args),
        one_per_article=_flag(args, "one_per_article"),
    )
