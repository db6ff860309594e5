"""Plain records that cross the seam between the engine, the updater and the backends.

`Filters` is specified here once; every backend implements it its own way, and the backend
contract tests hold each one to `Filters.admits`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from search.encoders.centering import LanguageCentroids

if TYPE_CHECKING:  # search.config imports the ranking's enums, which import these records
    from search.config import Settings


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
    # The paragraph's language: every backend fills it in, so that ranking by language
    # (fusion weights, bias correction) asks the reader nothing more.
    lang: str | None = None


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


@dataclass(slots=True)
class ParagraphFacts:
    """What ranking, listing and a hit need of a paragraph and its article, but its text.

    Not frozen: a query makes one per candidate and per other member of their groups (about
    a thousand on an index of 11 translated languages), and a frozen dataclass is several
    times slower to make. Treat it as read-only."""

    pid: int
    article_id: str
    position: int
    lang: str
    group: int  # its translation group (its own pid when alone)
    title: str
    date: str | None
    source: str | None
    place: str | None
    url: str | None

    @property
    def paragraph_id(self) -> str:
        return f"{self.article_id}:{self.position}"


@dataclass(frozen=True)
class Facts:
    """The facts of some paragraphs and of the other members of their translation groups,
    read in one call (GenerationReader.facts); `members` maps each of their groups to its
    members in pid order."""

    paragraphs: dict[int, ParagraphFacts]
    members: dict[int, tuple[int, ...]]


@dataclass(frozen=True)
class ParagraphColumns:
    """What counting and ordering need of many paragraphs, in the order asked, a list per
    field (GenerationReader.columns): no text, and not their groups' members, which a query
    reads only for what it shows (a candidate's group has a member per language)."""

    langs: list[str]
    article_ids: list[str]
    groups: list[int]
    dates: list[str | None]
    sources: list[str | None]


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
    settings: Settings  # the settings it was built with
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
                ("generation", "model", "dim", "next_pid", "created", "precision")}
        data["settings"] = self.settings.to_dict()
        data["files"] = {path: vars(entry) for path, entry in self.files.items()}
        if self.centroids is not None:
            data["centroids"] = self.centroids.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        from search.config import Settings

        files = {
            path: FileEntry(entry["hash"], tuple(entry["articles"]), int(entry["paragraphs"]),
                            dict(entry["languages"]), int(entry["first_pid"]))
            for path, entry in data["files"].items()
        }
        return cls(int(data["generation"]), str(data["model"]), int(data["dim"]),
                   Settings.from_dict(data["settings"]), int(data["next_pid"]),
                   str(data["created"]), files,
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
