"""Multilingual hybrid search over news articles: keywords and meaning, fused.

The public Python API (see README, "Use from Python"):

- `update_index` brings an index folder up to date with a folder of articles;
- `Engine` answers `Query`s from it with `SearchPage`s of `Hit`s;
- `Settings` holds every tunable with its default;
- `add_alert`, `list_alerts`, `alert_hits`, `remove_alert` keep saved searches that every
  later update evaluates (search.alerts);
- errors derive from `SearchError` and carry a message meant for users.
"""

from __future__ import annotations

from search.alerts import (
    Alert,
    AlertHit,
    AlertKind,
    add_alert,
    alert_hits,
    list_alerts,
    remove_alert,
)
from search.config import Settings
from search.engine import Engine
from search.errors import (
    AlertNotFound,
    ArticleNotFound,
    EmbeddingFailed,
    IndexBusy,
    IndexCorrupt,
    IndexIncompatible,
    IndexMissing,
    IndexUnwritable,
    InvalidAlert,
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
    "Alert",
    "AlertHit",
    "AlertKind",
    "AlertNotFound",
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
    "IndexUnwritable",
    "IndexSummary",
    "InvalidAlert",
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
    "add_alert",
    "alert_hits",
    "list_alerts",
    "remove_alert",
    "update_index",
]
