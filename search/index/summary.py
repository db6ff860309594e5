"""What one `search index` run did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from search.ingest.seeds import Problem


@dataclass
class IndexSummary:
    """Counts of one update; `generation` is the live one when it ends."""

    added: int = 0  # articles
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0  # files
    records_skipped: int = 0  # records lost by files whose other records were read
    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_embedded: int = 0  # not found in the embedding cache
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # done anyway, but worth telling
    generation: str | None = None
    seconds: float = 0.0
    grouping_seconds: float = 0.0  # translation groups, included in seconds

    @property
    def paragraphs_per_second(self) -> float:
        return self.paragraphs_added / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["paragraphs_per_second"] = round(self.paragraphs_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        data["grouping_seconds"] = round(self.grouping_seconds, 3)
        return data
