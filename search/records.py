"""Plain records that cross the seam between the engine and its backends.

`Filters` is specified here once; every backend implements it its own way, and the backend
contract tests hold each one to `Filters.admits`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """Restrictions on which paragraphs may match; empty tuples and None restrict nothing.

    A paragraph passes when every given restriction holds: its language is one of
    `languages`, its article one of `article_ids`, its article's source one of `sources`, and
    its article's date (ISO YYYY-MM-DD) lies within `date_from`..`date_to`, both inclusive.
    An article without a date passes no date restriction.
    """

    languages: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def is_empty(self) -> bool:
        return not (
            self.languages or self.article_ids or self.sources or self.date_from or self.date_to
        )

    def admits(self, lang: str, article_id: str, source: str | None, date: str | None) -> bool:
        """Whether a paragraph with these properties passes: the reference definition."""
        if self.languages and lang not in self.languages:
            return False
        if self.article_ids and article_id not in self.article_ids:
            return False
        if self.sources and source not in self.sources:
            return False
        if self.date_from and (not date or date[:10] < self.date_from):
            return False
        return not (self.date_to and (not date or date[:10] > self.date_to))


@dataclass(frozen=True, order=True)
class Candidate:
    """One paragraph as ranked by one side of a backend: its id and that side's score.

    `coverage` (keyword candidates only) is the share, 0..1, of the query's distinct analysed
    terms, in the paragraph's own language, that its title or text contains; a term the
    postings budget leaves out of the query counts in neither part. None: not known (vector
    candidates).
    """

    pid: int
    score: float
    coverage: float | None = None


@dataclass(frozen=True)
class ParagraphRecord:
    """A stored paragraph: where it sits in its article, its text and its language."""

    pid: int
    article_id: str
    position: int
    start: int
    end: int
    text: str
    lang: str

    @property
    def paragraph_id(self) -> str:
        """The public id: article id and position, stable across generations."""
        return f"{self.article_id}:{self.position}"


@dataclass(frozen=True)
class ArticleRecord:
    """A stored article; `lang` is the stated language or else its paragraphs' dominant one."""

    id: str
    path: str
    title: str
    date: str | None
    place: str | None
    source: str | None
    url: str | None
    lang: str
    paragraph_pids: tuple[int, ...]
