"""Multilingual hybrid search over news articles: keywords and meaning, fused.

The public Python API (see README, "Use from Python"):

- `update_index` brings an index folder up to date with a folder of articles;
- `Engine` answers `Query`s from it with `SearchPage`s of `Hit`s;
- `Settings` holds every tunable with its default;
- errors derive from `SearchError` and carry a message meant for users.
"""

from __future__ import annotations

from search.config import Settings
from search.engine import Engine
from search.errors import (
    ArticleNotFound,
    EmbeddingFailed,
    IndexBusy,
    IndexCorrupt,
    IndexIncompatible,
    IndexMissing,
    InvalidQuery,
    ModelUnavailable,
    ParagraphNotFound,
    SearchError,
    SeedsNotFound,
    UnreadableFile,
)
from search.index.summary import IndexSummary
from search.index.updater import update_index
from search.ranking.query import Mode, Query
from search.records import Filters
from search.results import (
    ArticleView,
    Explanation,
    Hit,
    IndexStats,
    ParagraphView,
    SearchPage,
    Similar,
    Translation,
)

__all__ = [
    "ArticleNotFound",
    "ArticleView",
    "EmbeddingFailed",
    "Engine",
    "Explanation",
    "Filters",
    "Hit",
    "IndexBusy",
    "IndexCorrupt",
    "IndexIncompatible",
    "IndexMissing",
    "IndexStats",
    "IndexSummary",
    "InvalidQuery",
    "Mode",
    "ModelUnavailable",
    "ParagraphNotFound",
    "ParagraphView",
    "Query",
    "SearchError",
    "SearchPage",
    "SeedsNotFound",
    "Settings",
    "Similar",
    "Translation",
    "UnreadableFile",
    "update_index",
]
