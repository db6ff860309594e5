"""What a search asks for (Query, Filters) and the ranked candidates each index answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from search.errors import InvalidQuery

_SURROGATE = re.compile("[\ud800-\udfff]")


class Mode(StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


@dataclass(frozen=True)
class Filters:
    """Restrictions on which paragraphs may match. Empty tuples and None mean no restriction."""

    languages: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None  # ISO date, inclusive

    def is_empty(self) -> bool:
        return not (
            self.languages or self.article_ids or self.sources or self.date_from or self.date_to
        )


@dataclass(frozen=True, order=True)
class Candidate:
    """One paragraph as ranked by one index: its integer id and that index's score."""

    pid: int
    score: float


@dataclass(frozen=True)
class Query:
    text: str
    mode: Mode = Mode.HYBRID
    lang: str | None = None  # the query's language; detected when None
    filters: Filters = field(default_factory=Filters)
    page: int = 1
    size: int = 10
    fusion: str | None = None  # None: the index's default
    alpha: float | None = None  # semantic weight for weighted fusion; None: default
    one_per_article: bool = False


def validate(query: Query, max_chars: int, max_size: int) -> Query:
    """Return the query with its text stripped, or raise InvalidQuery saying what is wrong."""
    text = query.text.strip() if isinstance(query.text, str) else ""
    text = _SURROGATE.sub("\ufffd", text)  # not UTF-8-encodable: echoing it back would fail
    if not text:
        raise InvalidQuery("the query is empty: type a few words to search for")
    if len(text) > max_chars:
        raise InvalidQuery(f"the query is {len(text)} characters long; the limit is {max_chars}")
    if query.page < 1:
        raise InvalidQuery("page must be 1 or more")
    if not 1 <= query.size <= max_size:
        raise InvalidQuery(f"size must be between 1 and {max_size}")
    if query.alpha is not None and not 0.0 <= query.alpha <= 1.0:
        raise InvalidQuery("alpha must be between 0 and 1")
    return Query(
        text=text,
        mode=query.mode,
        lang=query.lang,
        filters=query.filters,
        page=query.page,
        size=query.size,
        fusion=query.fusion,
        alpha=query.alpha,
        one_per_article=query.one_per_article,
    )
