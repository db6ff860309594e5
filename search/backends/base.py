"""The backend interface: what the engine and the updater need from storage and retrieval.

A backend keeps *generations*: complete, immutable versions of the index. The updater builds
the next one through a `GenerationWriter` and publishes it atomically; readers open the live
one as a `GenerationReader` and keep answering from it until they let go, whatever is
published meanwhile. Every backend passes the same contract tests (tests/backends/).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from search.encoders.centering import LanguageCentroids
from search.records import ArticleRecord, Candidate, Filters, ParagraphRecord

# progress(stage, done, total), called as long work advances (for a progress bar).
Progress = Callable[[str, int, int], None]


def generation_name(number: int) -> str:
    return f"g{number:06d}"


@dataclass(frozen=True)
class FileEntry:
    """A seed file as indexed: its content hash, its article ids, and its paragraphs: how
    many, in which languages, and the first of their ids (one run numbers them in a row)."""

    hash: str
    articles: tuple[str, ...]
    paragraphs: int
    languages: dict[str, int]
    first_pid: int

    @property
    def pids(self) -> range:
        return range(self.first_pid, self.first_pid + self.paragraphs)


@dataclass(frozen=True)
class Catalog:
    """What one generation holds, the same in every backend: the model that embedded it, the
    settings it was built with and its seed files. The updater compares seeds/ with it."""

    generation: int
    model: str
    dim: int
    settings: dict[str, Any]
    next_pid: int  # the id the next new paragraph gets; ids are never reused
    created: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    # Precision of the encoder that made the vectors ("fp32" in indexes older than the field);
    # all precisions give compatible vectors (cosine >= 0.999 to fp32).
    precision: str = "fp32"
    # Each language's vector sum and count (None in indexes older than the field: the
    # updater computes them on its next run).
    centroids: LanguageCentroids | None = None

    @property
    def name(self) -> str:
        return generation_name(self.generation)

    @cached_property
    def articles(self) -> int:
        return sum(len(entry.articles) for entry in self.files.values())

    @cached_property
    def paragraphs(self) -> int:
        return sum(entry.paragraphs for entry in self.files.values())

    @cached_property
    def languages(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.files.values():
            for lang, count in entry.languages.items():
                counts[lang] = counts.get(lang, 0) + count
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        # Not asdict: its deep copy of every article id costs ~20 ms at 10,000 articles.
        data = {key: getattr(self, key) for key in
                ("generation", "model", "dim", "settings", "next_pid", "created", "precision")}
        data["files"] = {path: vars(entry) for path, entry in self.files.items()}
        if self.centroids is not None:
            data["centroids"] = self.centroids.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        files = {
            path: FileEntry(entry["hash"], tuple(entry["articles"]), int(entry["paragraphs"]),
                            dict(entry["languages"]), int(entry["first_pid"]))
            for path, entry in data["files"].items()
        }
        return cls(int(data["generation"]), str(data["model"]), int(data["dim"]),
                   dict(data["settings"]), int(data["next_pid"]), str(data["created"]), files,
                   str(data.get("precision", "fp32")),
                   LanguageCentroids.from_dict(data["centroids"]) if "centroids" in data
                   else None)


@dataclass(frozen=True)
class NewParagraph:
    """A paragraph as the updater hands it to a writer."""

    pid: int
    position: int
    start: int
    end: int
    text: str
    lang: str


@dataclass(frozen=True)
class NewArticle:
    """An article as the updater hands it to a writer; `lang` only when the input states it."""

    id: str
    path: str
    title: str
    date: str | None
    place: str | None
    source: str | None
    url: str | None
    lang: str | None
    paragraphs: tuple[NewParagraph, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> NewArticle:
        data = json.loads(text)
        paragraphs = tuple(NewParagraph(**p) for p in data.pop("paragraphs"))
        return cls(**data, paragraphs=paragraphs)

    def record(self) -> ArticleRecord:
        """The article as readers see it."""
        return ArticleRecord(self.id, self.path, self.title, self.date, self.place, self.source,
                             self.url, self.lang or dominant_language(self.paragraphs),
                             tuple(p.pid for p in self.paragraphs))


def dominant_language(paragraphs: Sequence[NewParagraph]) -> str:
    """The language most of the text is in ("und" for no paragraphs)."""
    chars: dict[str, int] = {}
    for p in paragraphs:
        chars[p.lang] = chars.get(p.lang, 0) + len(p.text)
    return max(chars, key=chars.__getitem__, default="und")


@dataclass(frozen=True)
class CheckReport:
    """What a backend's check found; `problems` is empty when every part agrees."""

    index_dir: str
    generation: str | None = None
    model: str | None = None
    dim: int | None = None
    articles: int = 0  # live articles found in storage
    paragraphs: int = 0  # live paragraphs found in storage
    vectors: int = 0  # vectors of those paragraphs
    keyword_paragraphs: int | None = None  # None: the keyword side could not be read
    graph_vectors: int | None = None  # vectors in an approximate-search graph; None: none
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


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
