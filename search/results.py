"""What the engine answers with: result pages, hits, articles and index statistics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from search.ranking.explain import TermMatch
from search.ranking.query import Understood
from search.records import ArticleRecord, ParagraphRecord


@dataclass(frozen=True)
class Explanation:
    """Why a paragraph ranks where it does (ranks 1-based; None: not in that side's window)."""

    keyword_rank: int | None
    keyword_score: float | None
    semantic_rank: int | None
    semantic_score: float | None
    fused_score: float
    # The share of the query's terms the paragraph holds (None: not a keyword candidate), its
    # absolute evidence (0..1, a match from 0.5; see search.ranking.matching) and the recency
    # factor applied to its score (None: no recency boost asked).
    coverage: float | None = None
    evidence: float | None = None
    recency: float | None = None
    # The query words the paragraph holds, each in its strongest form and the spellings
    # found (search.ranking.explain); empty in semantic mode, which reads no words.
    terms: tuple[TermMatch, ...] = ()


@dataclass(frozen=True)
class Translation:
    """Another member of a paragraph's translation group: the same text in another language."""

    paragraph_id: str
    article_id: str
    position: int
    lang: str
    title: str


@dataclass(frozen=True)
class Hit:
    paragraph_id: str
    article_id: str
    title: str
    lang: str
    date: str | None
    source: str | None
    place: str | None
    url: str | None
    position: int
    start: int
    end: int
    text: str
    highlighted: str  # the whole paragraph, HTML-escaped, query terms in <mark>
    snippet: str  # a window of it, same markup
    score: float
    explain: Explanation
    translations: tuple[Translation, ...] = ()


UNDATED = "none"  # the month facet's value for paragraphs of undated articles
NO_SOURCE = "none"


@dataclass(frozen=True)
class Facets:
    """Counts of the matching paragraphs (all of them, not only the page's) by language,
    by source and by month of their article's date (YYYY-MM; "none" for undated articles
    or articles without a source). Largest counts first; months newest first. `dates`
    counts them by day (YYYY-MM-DD), oldest first, "none" last: the timeline's data."""

    languages: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    months: dict[str, int] = field(default_factory=dict)
    dates: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchPage:
    """One page of a query's matches.

    `total` counts the paragraphs that match among both sides' count windows;
    `total_relation` is "eq" when that is all of them and "gte" when a side filled its window
    and more may match. `listed` is how many results there are to page through: the ranking
    (the matches and weaker candidates; only the matches in date order), each article or
    translation group once when asked; 0 when nothing matches. `closest` holds, only when
    nothing matches, the first page of the ranking, for the user to judge."""

    query: Understood
    page: int
    size: int
    total: int
    hits: list[Hit]
    took_ms: float
    generation: str
    total_relation: str = "eq"
    facets: Facets = field(default_factory=Facets)
    closest: list[Hit] = field(default_factory=list)
    listed: int = 0


@dataclass(frozen=True)
class Matching:
    """Every match of a query up to a limit, for export: `hits` yields them best first,
    made as they are read; `count` is how many it yields, `cut` whether more matched (or
    may have: a side's candidates filled the limit). Close it when done (a context
    manager), read to the end or not."""

    query: Understood
    count: int
    cut: bool
    facets: Facets
    hits: Iterator[Hit]
    close: Callable[[], None]

    def __enter__(self) -> Matching:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class ArticleView:
    article: ArticleRecord
    paragraphs: list[ParagraphRecord]
    versions: tuple[ArticleRecord, ...] = ()  # the article in other languages


@dataclass(frozen=True)
class ParagraphView:
    """One paragraph with its article and its translation group."""

    paragraph: ParagraphRecord
    article: ArticleRecord
    translations: tuple[Translation, ...]


@dataclass(frozen=True)
class Similar:
    """A paragraph of another article close in meaning to a given one."""

    paragraph: ParagraphRecord
    article: ArticleRecord
    score: float  # cosine
    translation: bool  # in the given paragraph's translation group


@dataclass(frozen=True)
class IndexStats:
    index_dir: str
    generation: str
    created: str
    model: str
    dim: int
    articles: int
    paragraphs: int
    languages: dict[str, int]
    approximate: bool
    precision: str = "fp32"  # of the encoder that made the vectors
