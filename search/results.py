"""What the engine answers with: result pages, hits, articles and index statistics."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class SearchPage:
    query: Understood
    page: int
    size: int
    total: int
    hits: list[Hit]
    took_ms: float
    generation: str


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
