"""The manifest of a local generation: its catalog and the files on disk that make it up."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from search.records import Catalog

# 2: typed segment lines without the article text; the catalog apart from the local parts.
# 3: the keyword analyzers add Latin forms of names (search/transliteration.py), and their
#    pickled filters are classes older code does not have.
FORMAT_VERSION = 3
REBUILD_HINT = "run `search index --rebuild` to rebuild it from seeds/"


@dataclass(frozen=True)
class Manifest:
    """A generation as the local backend stores it: the backend-neutral catalog, the segment
    holding each seed file's articles, and the HNSW graph if there is one."""

    catalog: Catalog
    file_segments: dict[str, str] = field(default_factory=dict)  # seed path -> segment
    ann: str | None = None  # file name of the HNSW graph in segments/, if any
    # The graph holds every live paragraph whose id is below this (next_pid when it was built:
    # an id is never reused). None when there is no graph.
    ann_next_pid: int | None = None

    @property
    def name(self) -> str:
        return self.catalog.name

    @property
    def dim(self) -> int:
        return self.catalog.dim

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.file_segments.values())))

    def live_articles(self) -> dict[str, set[str]]:
        """The live article ids of each segment."""
        live: dict[str, set[str]] = {segment: set() for segment in self.segments}
        for path, entry in self.catalog.files.items():
            live[self.file_segments[path]].update(entry.articles)
        return live

    def to_json(self) -> str:
        # Compact: json's C encoder serves only calls without indent.
        return json.dumps({
            "format": FORMAT_VERSION, "catalog": self.catalog.to_dict(),
            "file_segments": self.file_segments, "ann": self.ann,
            "ann_next_pid": self.ann_next_pid,
        }, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Parse a manifest whose format was checked (see `format_of`)."""
        ann_next_pid = data["ann_next_pid"]
        return cls(Catalog.from_dict(data["catalog"]), dict(data["file_segments"]),
                   data["ann"], None if ann_next_pid is None else int(ann_next_pid))


def format_of(data: object) -> int | None:
    """The format number a parsed manifest declares (None: not a manifest at all)."""
    if isinstance(data, dict) and isinstance(data.get("format"), int):
        return int(data["format"])
    return None
