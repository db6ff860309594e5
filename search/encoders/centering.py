"""Per-language mean vectors, to take the language out of multilingual sentence vectors.

A multilingual encoder puts a component that says which language a text is in into every
vector, so paragraphs in the query's language crowd out right answers in other languages
(Roy et al., LAReQA, EMNLP 2020). Subtracting each language's mean vector and renormalizing
removes most of it: on XQuAD-R dev it raised the share of paragraphs whose nearest paragraph
in another language is their translation from 0.60 to 0.74 (docs/benchmarks.md).

`LanguageCentroids` keeps each language's vector sum and count, so that adding and removing
paragraphs updates the means exactly without reading the rest of the index. It is stored
with each generation's catalog.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LanguageCentroids:
    """Sum and count of the (unit) vectors of each language's paragraphs."""

    sums: dict[str, np.ndarray] = field(default_factory=dict)  # float64, one row per language
    counts: dict[str, int] = field(default_factory=dict)

    def mean(self, lang: str) -> np.ndarray | None:
        """The language's mean vector, or None when it has no paragraphs."""
        count = self.counts.get(lang, 0)
        if count <= 0:
            return None
        return (self.sums[lang] / count).astype(np.float32)

    def offsets(self, min_paragraphs: int) -> dict[str, np.ndarray]:
        """What sets each language apart: its mean minus the mean of the languages' means, for
        the languages with at least `min_paragraphs` paragraphs (a mean of fewer is too noisy
        to correct with). Empty when fewer than two languages qualify: one language's
        candidates all share its offset, so there is nothing to correct."""
        means = {lang: self.sums[lang] / count for lang, count in self.counts.items()
                 if count >= min_paragraphs}
        if len(means) < 2:
            return {}
        middle = np.mean(list(means.values()), axis=0)
        return {lang: (mean - middle).astype(np.float32) for lang, mean in sorted(means.items())}

    def center(self, vectors: np.ndarray, langs: Sequence[str]) -> np.ndarray:
        """Each row minus its language's mean, renormalized to unit length; rows of a
        language without statistics, and rows that would vanish, stay as they are."""
        vectors = np.asarray(vectors, dtype=np.float32)
        out = vectors.copy()
        for lang in set(langs):
            mean = self.mean(lang)
            if mean is None:
                continue
            rows = np.fromiter((i for i, code in enumerate(langs) if code == lang), dtype=np.int64)
            centered = vectors[rows] - mean
            norms = np.linalg.norm(centered, axis=1, keepdims=True)
            keep = norms[:, 0] > 1e-6
            out[rows[keep]] = centered[keep] / norms[keep]
        return out

    def changed(self, vectors: np.ndarray, langs: Sequence[str], sign: int) -> LanguageCentroids:
        """The statistics with `vectors` (one language per row) added (sign 1) or removed
        (sign -1)."""
        sums = dict(self.sums)
        counts = dict(self.counts)
        vectors = np.asarray(vectors, dtype=np.float64)
        for lang in set(langs):
            rows = [i for i, code in enumerate(langs) if code == lang]
            total = vectors[rows].sum(axis=0) * sign
            sums[lang] = sums[lang] + total if lang in sums else total
            counts[lang] = counts.get(lang, 0) + sign * len(rows)
            if counts[lang] <= 0:
                del sums[lang], counts[lang]
        return LanguageCentroids(sums, counts)

    def added(self, vectors: np.ndarray, langs: Sequence[str]) -> LanguageCentroids:
        return self.changed(vectors, langs, 1)

    def removed(self, vectors: np.ndarray, langs: Sequence[str]) -> LanguageCentroids:
        return self.changed(vectors, langs, -1)

    def to_dict(self) -> dict[str, Any]:
        return {
            lang: {"count": self.counts[lang],
                   "sum": base64.b64encode(self.sums[lang].astype("<f8").tobytes()).decode()}
            for lang in sorted(self.counts)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LanguageCentroids:
        sums = {lang: np.frombuffer(base64.b64decode(entry["sum"]), dtype="<f8").copy()
                for lang, entry in data.items()}
        counts = {lang: int(entry["count"]) for lang, entry in data.items()}
        return cls(sums, counts)
