"""What a search asks for (`Query`) and the query as the engine reads it (`Understood`).

`understand` is the one place where a query's values are checked: every caller (the Python
API, the CLI, the web layer, which only turns strings into types) gets the same messages.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar

from search.config import Settings
from search.errors import InvalidQuery
from search.ingest.language import LanguageDetector, normalize_code
from search.ranking.fusion import FusionMethod
from search.ranking.ordering import Collapse, Sort
from search.records import Filters

_SURROGATE = re.compile("[\ud800-\udfff]")
LANG_CODE = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$"  # as given; folded by normalize_code
_LANG_CODE = re.compile(LANG_CODE)
Choice = TypeVar("Choice", bound=StrEnum)


class Mode(StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


def choices(kind: type[StrEnum]) -> list[str]:
    """The values of an enum of choices, in its order: what the CLI, the OpenAPI document and
    the web layer offer (the enum is the one place a choice is defined)."""
    return [member.value for member in kind]


@dataclass(frozen=True)
class Query:
    """A search as asked. Every choice may be given as its enum member or its value (the
    string); `understand` converts and checks them all the same way."""

    text: str
    mode: Mode | str = Mode.HYBRID
    lang: str | None = None  # the query's language; detected when None
    filters: Filters = field(default_factory=Filters)
    page: int = 1
    size: int = 10
    fusion: FusionMethod | str | None = None  # None: the settings' default
    alpha: float | None = None  # semantic weight for hybrid fusion; None: default
    one_per_article: bool = False
    sort: Sort | str = Sort.RELEVANCE  # relevance, or date (newest first, undated last)
    recency: float | None = None  # half-life in days of a recency boost; None: no boost
    collapse: Collapse | str = Collapse.NONE  # translations: each translation group once


@dataclass(frozen=True)
class Understood:
    """The query as the engine read it: checked, with its language and defaults filled in.

    `lang` is the query's language among the index's languages (for the keyword side and
    highlighting); `text_lang` is the language it is written in among all languages, which
    differs for a question in a language the index lacks (for the fusion weights). Both come
    from one detection."""

    text: str
    lang: str
    lang_detected: bool
    text_lang: str
    mode: Mode
    fusion: FusionMethod | None
    alpha: float | None
    filters: Filters
    page: int
    size: int
    one_per_article: bool
    sort: Sort = Sort.RELEVANCE
    recency: float | None = None
    collapse: Collapse = Collapse.NONE


def _shown(value: object, limit: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def understand(query: Query, settings: Settings, indexed: dict[str, int],
               detector: LanguageDetector) -> Understood:
    """Check every value of `query` (raising InvalidQuery that says what is wrong) and
    detect its language among `indexed` (language -> paragraphs) when it is not given."""
    text = _text(query.text, settings.max_query_chars)
    if not 1 <= query.page <= settings.max_page:
        raise InvalidQuery(f"page must be between 1 and {settings.max_page}, not {query.page}")
    if not 1 <= query.size <= settings.max_page_size:
        raise InvalidQuery(
            f"size must be between 1 and {settings.max_page_size}, not {query.size}")
    filters = _filters(query.filters, indexed)
    if query.lang is not None:
        lang = text_lang = _language_code(query.lang, "query_lang")
    else:
        lang, text_lang = detector.detect_query(text, indexed)
    mode = _member(Mode, "mode", query.mode)
    chosen = _member(FusionMethod, "fusion", settings.fusion if query.fusion is None
                     else query.fusion)
    fusion = alpha = None
    if mode is Mode.HYBRID:
        fusion = chosen
        alpha = query.alpha
        if alpha is None:
            alpha = 0.5 if fusion is FusionMethod.RRF else settings.alpha
        elif not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
            raise InvalidQuery(f"alpha must be a number between 0 and 1, not {_shown(alpha)}")
    return Understood(text, lang, query.lang is None, text_lang, mode, fusion, alpha,
                      filters, query.page, query.size, query.one_per_article,
                      _member(Sort, "sort", query.sort),
                      _recency(query.recency, settings.max_recency_days),
                      _member(Collapse, "collapse", query.collapse))


def _member(kind: type[Choice], name: str, value: object) -> Choice:
    """The member of an enum of choices that `value` is or names; InvalidQuery listing them
    if none does."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value in choices(kind):
        return kind(value)
    allowed = ", ".join(choices(kind))
    raise InvalidQuery(f"{name} must be one of {allowed}, not {_shown(value)}")


def _recency(days: object, longest: float) -> float | None:
    if days is None:
        return None
    valid = isinstance(days, int | float) and not isinstance(days, bool)
    if not (valid and math.isfinite(float(days)) and 0 < float(days) <= longest):  # type: ignore[arg-type]
        raise InvalidQuery(f"recency must be a half-life in days, a number above 0 and at "
                           f"most {longest:g}, not {_shown(days)}")
    return float(days)  # type: ignore[arg-type]


def _text(raw: object, max_chars: int) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    text = _SURROGATE.sub("\ufffd", text)  # not UTF-8-encodable: echoing it back would fail
    if not text:
        raise InvalidQuery("the query is empty: type a few words to search for")
    if len(text) > max_chars:
        raise InvalidQuery(f"the query is {len(text)} characters long; the limit is {max_chars}")
    return text


def _language_code(raw: str, name: str) -> str:
    if not _LANG_CODE.fullmatch(raw):
        raise InvalidQuery(f"{name} must be a language code such as en or zh, not {_shown(raw)}")
    return normalize_code(raw)


def _filters(filters: Filters, indexed: dict[str, int]) -> Filters:
    languages = tuple(_language_code(code, "lang") for code in filters.languages)
    unknown = [code for code in languages if code not in indexed]
    if unknown:
        have = ", ".join(sorted(indexed)) or "none yet"
        raise InvalidQuery(
            f"no paragraphs in language {', '.join(unknown)}; the index has: {have}")
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        if value is not None and not _is_iso_date(value):
            raise InvalidQuery(f"{name} must be a date like 2025-07-22, not {_shown(value)}")
    return Filters(languages, filters.article_ids, filters.sources, filters.date_from,
                   filters.date_to)


def _is_iso_date(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
