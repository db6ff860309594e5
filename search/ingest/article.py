"""The Article dataclass: what every reader of seeds/ returns."""

from __future__ import annotations

from collections.abc import Iterable
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


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what one seed file may cost to read (Settings.max_file_bytes, max_elements):
    a hostile file is skipped with one line instead of taking the machine's memory."""

    max_file_bytes: int = 64 * 2**20
    # HTML tags, or JSON objects and arrays, in one file (each takes a Python object or more)
    max_elements: int = 200_000


@dataclass(frozen=True)
class LostRecords:
    """Records of one file that could not be read (JSON list members, JSON Lines lines) while
    the others were: how many, of how many, and where and why the first went."""

    count: int
    total: int
    first: str  # e.g. "line 6: malformed JSON at column 12: Unterminated string"

    def __str__(self) -> str:
        return f"{self.count} of {self.total} records ({self.first})"


class FileArticles(list[Article]):
    """The articles of one file, in order, with the records of it that were lost, if any."""

    def __init__(self, articles: Iterable[Article] = (), lost: LostRecords | None = None
                 ) -> None:
        super().__init__(articles)
        self.lost = lost
