"""The Article dataclass: what every reader of seeds/ returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One article from seeds/; `text` has no title and a blank line between paragraphs."""

    id: str  # the path, or "path#<id field or 0-based index>" for records of .json lists / .jsonl
    path: str  # relative to seeds/, posix separators
    title: str
    text: str
    date: str | None = None  # YYYY-MM-DD, only when the year is known
    place: str | None = None  # from a dateline, e.g. "KYIV"
    source: str | None = None  # e.g. "Alliance News"
    url: str | None = None
    lang: str | None = None  # only when the input states it (json "lang")
