"""Language-bias correction of the dense side, at query time, on any backend.

A multilingual encoder's vectors carry a component that says which language a text is in
(Roy et al., LAReQA, EMNLP 2020), so paragraphs in the query's language crowd out right
answers in other languages. Each language's offset, its mean vector minus the mean of all the
languages' means (from the statistics the index keeps, LanguageCentroids), is taken out of
both sides of the inner product:

    (q - o_q) . (p - o_p)  =  q' . p  -  q' . o_p        with q' = q - o_q (renormalized)

so the stored vectors stay as the encoder made them: the backend is searched with q' and each
candidate's score is lowered by q' . o_p of its language, a constant per language. Within one
language the ranking is that of q', and an index of one language has no offsets at all. The
statistics are exact sums kept by the updater, so no stored vector ever needs rewriting.

Measured on XQuAD-R dev, dense side alone, all paragraphs pooled (docs/benchmarks.md):
nDCG@10 .450 -> .462 and mAP@100 .371 -> .396 with the whole ranking corrected; mono and
cross, one language per index, unchanged. The paper's recipe (each side centered on its
language's full mean and renormalized) gave .456 / .399 but lost .019 of mono nDCG@10, and
storing centered vectors would tie every stored vector to means that move with the index.
search.ranking.policy decides which searches are corrected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search.backends.base import GenerationReader
from search.records import Candidate, Catalog, Filters

# Fewer paragraphs give a mean too noisy to correct with. On XQuAD-R dev's pool (120
# paragraphs a language), means from 20 of them lost .01 nDCG@10 against no correction, from
# 40 gained .004, from 80 and 100 .011-.012 of the .012 that all 120 give.
MIN_PARAGRAPHS = 100
# The candidates a corrected search asks for, per candidate kept: a language the correction
# lifts may have candidates just below the raw cut (2x: pool nDCG@10 .456 -> .462; 3x .463).
WIDER = 2


@dataclass(frozen=True)
class LanguageBias:
    """The per-language offsets of one generation (float32, one per language)."""

    offsets: dict[str, np.ndarray]

    def debiased(self, vector: np.ndarray, lang: str) -> np.ndarray:
        """`vector` (a query or a passage in `lang`) without its language's offset, unit
        length; unchanged for a language without one."""
        offset = self.offsets.get(lang)
        if offset is None:
            return vector
        moved = np.asarray(vector, dtype=np.float32) - offset
        norm = float(np.linalg.norm(moved))
        return moved / norm if norm > 1e-6 else vector

    def rescored(self, candidates: Sequence[Candidate], langs: Sequence[str],
                 vector: np.ndarray) -> list[Candidate]:
        """Candidates of a search with `vector`, each score lowered by `vector`'s inner
        product with the offset of the candidate's language; best first, ties by pid."""
        shift = {lang: float(np.dot(vector, offset)) for lang, offset in self.offsets.items()}
        moved = [Candidate(c.pid, c.score - shift.get(lang, 0.0), c.coverage, lang)
                 for c, lang in zip(candidates, langs, strict=True)]
        return sorted(moved, key=lambda c: (-c.score, c.pid))


def language_bias(catalog: Catalog, enabled: bool = True) -> LanguageBias | None:
    """The generation's correction; None when off, when the index predates the statistics,
    or when fewer than two languages have enough paragraphs to have an offset."""
    if not enabled or catalog.centroids is None:
        return None
    offsets = catalog.centroids.offsets(MIN_PARAGRAPHS)
    return LanguageBias(offsets) if offsets else None


def dense_candidates(reader: GenerationReader, vector: np.ndarray, bias: LanguageBias | None,
                     limit: int, filters: Filters) -> list[Candidate]:
    """The `limit` paragraphs nearest to `vector` (already debiased by the caller), with the
    candidates' language offsets taken out of their scores."""
    if bias is None:
        return reader.vector_candidates(vector, limit, filters)
    found = reader.vector_candidates(vector, limit * WIDER, filters)
    return bias.rescored(found, candidate_langs(reader, found), vector)[:limit]


def candidate_langs(reader: GenerationReader, found: Sequence[Candidate]) -> list[str]:
    """The language of each candidate: as the backend gave it, read only when it did not."""
    langs = [c.lang for c in found]
    if all(lang is not None for lang in langs):
        return [str(lang) for lang in langs]
    return reader.langs([c.pid for c in found])
