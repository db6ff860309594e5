"""The language statistics (LanguageCentroids) of the generation an update builds.

They follow the paragraphs exactly: the previous generation's sums, minus the vectors of the
paragraphs it drops (read from that generation), plus the new paragraphs' vectors. An index
from before the statistics has them computed from every vector it keeps. Stored vectors do
not depend on them (the correction is applied at query time), so they never need a rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search.backends.base import GenerationReader
from search.encoders.centering import LanguageCentroids
from search.index.vectors import NewVectors


def next_centroids(previous: GenerationReader | None, kept: Sequence[int],
                   dropped: Sequence[int], new: NewVectors) -> LanguageCentroids:
    """The statistics of the `previous` generation without the paragraphs `dropped` and
    with `new`; `kept` are its paragraphs that stay (read only when it has no statistics)."""
    base = LanguageCentroids()
    if previous is not None:
        if previous.catalog.centroids is None:
            base = base.added(*_stored(previous, kept))
        else:
            base = previous.catalog.centroids.removed(*_stored(previous, dropped))
    return base.added(new.vectors, new.langs)


def _stored(reader: GenerationReader, pids: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """The vectors and languages of `pids` in the reader's generation."""
    if not pids:
        return np.zeros((0, reader.catalog.dim), dtype=np.float32), []
    return np.stack([reader.vector(pid) for pid in pids]), reader.langs(pids)
