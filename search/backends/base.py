"""The backend interface: what the engine and the updater need from storage and retrieval.

A backend keeps *generations*: complete, immutable versions of the index. The updater builds
the next one through a `GenerationWriter` and publishes it atomically; readers open the live
one as a `GenerationReader` and keep answering from it until they let go, whatever is
published meanwhile. Every backend passes the same contract tests (tests/backends/). The
records that cross these protocols live in search/records.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from search.records import (
    ArticleRecord,
    Candidate,
    Catalog,
    CheckReport,
    Facts,
    Filters,
    NewArticle,
    ParagraphColumns,
    ParagraphRecord,
    Progress,
)


class GenerationReader(Protocol):
    """One published generation, open for reading; it never changes while open."""

    catalog: Catalog

    @property
    def approximate(self) -> bool:
        """Whether vector candidates come from an approximate search."""
        ...

    def keyword_candidates(self, text: str, lang: str, limit: int,
                           filters: Filters) -> list[Candidate]:
        """Up to `limit` paragraphs matching the words of `text` (plain words, never query
        syntax; `lang` is the query's language), best first, ties by pid."""
        ...

    def vector_candidates(self, vector: np.ndarray, limit: int,
                          filters: Filters) -> list[Candidate]:
        """Up to `limit` paragraphs nearest to `vector` by cosine, best first, ties by pid."""
        ...

    def vector(self, pid: int) -> np.ndarray:
        """The stored vector of a paragraph; KeyError if it is not in this generation."""
        ...

    def paragraphs(self, pids: Sequence[int]) -> list[ParagraphRecord]:
        """The records of `pids`, in that order; KeyError for one not in this generation."""
        ...

    def langs(self, pids: Sequence[int]) -> list[str]:
        """The language of each of `pids` (cheap: no text is read)."""
        ...

    def article_ids(self, pids: Sequence[int]) -> list[str]:
        """The article id of each of `pids` (cheap: no text is read)."""
        ...

    def article(self, article_id: str) -> ArticleRecord | None: ...

    def articles(self, article_ids: Sequence[str]) -> list[ArticleRecord | None]:
        """`article` of each id, in that order, in as few requests as the backend can make
        (a page of hits reads its articles at once)."""
        ...

    def groups(self, pids: Sequence[int]) -> list[int]:
        """The translation group id of each of `pids`: the paragraphs of other articles that
        say the same thing in other languages share it (at most one per language and per
        article); a paragraph alone has its own pid. Cheap: no text is read."""
        ...

    def group_members(self, group_ids: Sequence[int]) -> dict[int, list[int]]:
        """The paragraphs of each group, in pid order; an id that names no group of this
        generation maps to an empty list."""
        ...

    def facts(self, pids: Sequence[int]) -> Facts:
        """The facts of `pids` and of the other members of their groups, in one call: what a
        query's candidates need for ranking, listing and hits, but their texts. KeyError for
        a pid not in this generation."""
        ...

    def columns(self, pids: Sequence[int]) -> ParagraphColumns:
        """The language, article, translation group, date and source of each of `pids`, in
        one call and without their groups' members: what a query counts and orders all its
        candidates by. KeyError for a pid not in this generation."""
        ...

    def close(self) -> None: ...


class GenerationWriter(Protocol):
    """The next generation, being built from the previous one (or from nothing). Nothing is
    visible to readers before `publish`; a writer closed without publishing leaves no trace
    that matters (leftovers are removed by `Backend.collect_garbage`)."""

    number: int  # the generation number it will publish

    def remove(self, pids: Sequence[int]) -> None:
        """Drop paragraphs of the previous generation."""
        ...

    def add(self, articles: Iterable[NewArticle]) -> None:
        """Add articles and their paragraphs (text side), consuming `articles` once, as they
        arrive (the updater passes a stream that its reader fills). May run in another thread
        than the one computing vectors."""
        ...

    def add_vectors(self, pids: np.ndarray, vectors: np.ndarray) -> None:
        """The unit vectors of paragraphs given to `add`, row by row."""
        ...

    def set_groups(self, pids: Sequence[int], group_ids: Sequence[int]) -> None:
        """Put live paragraphs of this generation (new or old) into translation groups; a
        paragraph keeps its previous group unless set, and a removed one leaves its group."""
        ...

    def publish(self, catalog: Catalog) -> None:
        """Make the generation complete and live, atomically."""
        ...

    def close(self) -> None:
        """Release what the writer holds; after a failure, discard its work."""
        ...


class Backend(Protocol):
    """Storage and retrieval of one index. Constructing one does no I/O."""

    def current(self) -> str | None:
        """The live generation's name, or None when nothing was published yet."""
        ...

    def catalog(self, name: str) -> Catalog:
        """A generation's catalog, without opening the generation."""
        ...

    def identity(self, name: str) -> str:
        """What tells generation `name` from another of the same name: an index folder deleted
        and built anew, or restored from a backup, starts its names again. Cheap (readers
        compare it every second); "" when the generation is gone."""
        ...

    def open(self, name: str) -> GenerationReader:
        """Open a generation for reading; it stays readable until the reader is closed."""
        ...

    def writer_lock(self) -> AbstractContextManager[None]:
        """Held by the one writer; raises IndexBusy when another holds it."""
        ...

    def begin(self, previous: Catalog | None,
              progress: Progress | None = None) -> GenerationWriter:
        """Start the next generation (under the writer lock); from scratch when None."""
        ...

    def collect_garbage(self) -> list[str]:
        """Remove unfinished and unused old generations (under the writer lock)."""
        ...

    def check(self) -> CheckReport:
        """Compare every part of the live generation; reads only."""
        ...
