"""Ranking policy: how the engine turns one query's candidates into one ranking.

The pure fusion functions (search.ranking.fusion) merge two lists; this module decides what
to merge and with which weights, from measurements on XQuAD-R (docs/benchmarks.md):

- Within one language both sides are strong and `alpha` balances them; across two languages
  the encoder covers, the keyword side sees only shared names and numbers, so the semantic
  side weighs `alpha_cross`.
- Questions in a language the encoder does not cover rank by the keyword side first.
- Language bias (search.ranking.language_bias) is taken out of the dense searches that look
  for other languages: semantic mode's one list and the feedback search. Hybrid's first pass
  keeps raw cosine: it finds the best passage, mostly in the query's own language, and
  correcting it lowered that passage's rank (pool MRR@10 .653 -> .617, dense side alone)
  while the fused pool nDCG@10 fell .594 -> .592; with the feedback search alone corrected
  it rose to .602 (docs/benchmarks.md).
- Dense pseudo-relevance feedback: the best passage's vector, added to the question's, finds
  that passage's translations in third languages.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from search.backends.base import GenerationReader
from search.config import Settings
from search.ranking.exactness import exact_first
from search.ranking.fusion import (
    Fused,
    FusionMethod,
    fuse,
    keyword_first,
    single,
    weighted,
    with_translations,
)
from search.ranking.known import KnownFacts
from search.ranking.language_bias import LanguageBias, candidate_langs, dense_candidates
from search.ranking.query import Mode, Understood
from search.records import Candidate


def candidates(q: Understood, reader: GenerationReader, query_vector: np.ndarray | None,
               bias: LanguageBias | None, limit: int
               ) -> tuple[list[Candidate], list[Candidate]]:
    """Both sides' candidates of a query (keyword, semantic), `limit` each, best first; a
    side the mode does not search gives []. Semantic mode's are corrected for language bias
    (`bias`, the generation's: search.ranking.language_bias); hybrid corrects its feedback
    search only."""
    keyword: list[Candidate] = []
    semantic: list[Candidate] = []
    if q.mode in (Mode.KEYWORD, Mode.HYBRID):
        keyword = exact_first(reader.keyword_candidates(q.text, q.lang, limit, q.filters),
                              q.text)
    if query_vector is not None and q.mode is Mode.SEMANTIC and bias is not None:
        semantic = dense_candidates(reader, bias.debiased(query_vector, q.text_lang), bias,
                                    limit, q.filters)
    elif query_vector is not None:
        semantic = reader.vector_candidates(query_vector, limit, q.filters)
    return keyword, semantic


def rank(q: Understood, reader: GenerationReader, query_vector: np.ndarray | None,
         covered: Collection[str] | None, settings: Settings, window: int,
         found: tuple[list[Candidate], list[Candidate]], bias: LanguageBias | None,
         known: KnownFacts) -> list[Fused]:
    """The fused ranking of a query. `query_vector` is None in keyword mode; `covered` are
    the languages the encoder is known to cover (None: unknown); `found` are both sides'
    first `window` candidates (see `candidates`); `bias` is the generation's correction;
    `known` reads the facts of the ranking's paragraphs, once."""
    keyword, semantic = found
    if q.mode is Mode.KEYWORD:
        return single(keyword, "keyword")
    if q.mode is Mode.SEMANTIC:
        return single(semantic, "semantic")
    assert q.fusion is not None and q.alpha is not None and query_vector is not None
    if q.fusion is not FusionMethod.WEIGHTED:
        return fuse(q.fusion, keyword, semantic, q.alpha, settings.rrf_k)
    if covered is not None and q.text_lang not in covered:
        fused = keyword_first(keyword, semantic)
    else:
        fused = _language_aware(q, reader, keyword, semantic, query_vector, bias, covered,
                                settings, window)
    return _lift_translations(fused, q, known, settings)


def _lift_translations(fused: list[Fused], q: Understood, known: KnownFacts,
                       settings: Settings) -> list[Fused]:
    """`with_translations` over the reader's groups, for members the filters admit (only a
    language filter is checked here; with other filters nothing is lifted)."""
    top = settings.translation_top
    if settings.translation_weight <= 0 or top <= 0 or not fused:
        return fused
    filters = q.filters
    if filters.article_ids or filters.sources or filters.date_from or filters.date_to:
        return fused
    # The whole ranking's facts at once: the listing needs them next.
    known.read(item.pid for item in fused)
    head = [item.pid for item in fused[:top]]
    others = dict(zip(head, known.partners(head), strict=True))
    if filters.languages:
        wanted = sorted({m for row in others.values() for m in row})
        admitted = {f.pid for f in known.of(wanted) if f.lang in filters.languages}
        others = {pid: [m for m in row if m in admitted] for pid, row in others.items()}
    return with_translations(fused, others, settings.translation_weight, top)


def _language_aware(q: Understood, reader: GenerationReader, keyword: list[Candidate],
                    semantic: list[Candidate], query_vector: np.ndarray,
                    bias: LanguageBias | None, covered: Collection[str] | None,
                    settings: Settings, window: int) -> list[Fused]:
    assert q.alpha is not None
    alpha = q.alpha

    langs: dict[int, str] = {}

    def fused_with(feedback: list[Candidate], feedback_pids: set[int]) -> list[Fused]:
        for found in (keyword, semantic, feedback):
            langs.update(zip((c.pid for c in found), candidate_langs(reader, found),
                             strict=True))
        weights = language_weights(langs, q.text_lang, alpha, settings.alpha_cross, covered)
        return weighted(keyword, semantic, alpha, weights=weights, feedback=feedback,
                        feedback_pids=feedback_pids)

    fused = fused_with([], set())
    if settings.feedback <= 0 or not fused:
        return fused
    # Feedback ranks paragraphs in a third language only: within the query's and the best
    # passage's own languages (where it already stands first) the ranking is left alone.
    top = fused[0].pid
    top_lang = langs[top]
    if not set(reader.catalog.languages) - {q.text_lang, top_lang}:
        return fused
    passage = reader.vector(top)
    if bias is not None:
        query_vector = bias.debiased(query_vector, q.text_lang)
        passage = bias.debiased(passage, top_lang)
    feedback = dense_candidates(
        reader, feedback_vector(query_vector, passage, settings.feedback), bias, window,
        q.filters)
    third = {c.pid for c, lang in zip(feedback, candidate_langs(reader, feedback), strict=True)
             if lang not in (q.text_lang, top_lang)}
    return fused_with(feedback, third)


def language_weights(
    langs: Mapping[int, str],
    query_lang: str,
    alpha: float,
    alpha_cross: float,
    covered: Collection[str] | None = None,
) -> dict[int, float]:
    """The semantic weight of each paragraph (pid -> language) for a query in `query_lang`.

    Within one language both sides are strong and alpha balances them. Across two languages
    the encoder covers, the keyword side only sees shared names and numbers, so the semantic
    side gets the larger `alpha_cross`. For a paragraph in a language the encoder does not
    cover (`covered`, None: all), its vector is weak evidence and alpha applies.
    """
    weights = {}
    for pid, lang in langs.items():
        across = lang != query_lang and (covered is None or lang in covered)
        weights[pid] = alpha_cross if across else alpha
    return weights


def feedback_vector(query: np.ndarray, passage: np.ndarray, weight: float) -> np.ndarray:
    """Dense pseudo-relevance feedback (Rocchio, 1971): the query vector plus `weight` times
    the best passage's vector, renormalized to unit length."""
    vector = np.asarray(query, dtype=np.float32) + weight * np.asarray(passage, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else np.asarray(query, dtype=np.float32)
