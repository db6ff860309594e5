"""Pure functions that merge the keyword and the semantic ranking into one.

Each takes each side's ranked candidates (best first) and returns `Fused` items, best first,
with ties broken by paragraph id so that pagination is stable. How the defaults were chosen
is in docs/benchmarks.md (measured by bench/quality.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from search.records import Candidate


class FusionMethod(StrEnum):
    WEIGHTED = "weighted"
    RRF = "rrf"


@dataclass(frozen=True)
class Fused:
    """A paragraph's fused score and how each side ranked it (ranks are 1-based)."""

    pid: int
    score: float
    keyword_rank: int | None = None
    keyword_score: float | None = None
    semantic_rank: int | None = None
    semantic_score: float | None = None


def _ranked(candidates: Sequence[Candidate]) -> dict[int, tuple[int, float]]:
    ranks: dict[int, tuple[int, float]] = {}
    for rank, candidate in enumerate(candidates, start=1):
        ranks.setdefault(candidate.pid, (rank, candidate.score))
    return ranks


def _merge(
    keyword: Sequence[Candidate],
    semantic: Sequence[Candidate],
    scores: dict[int, float],
    semantic_ranks: dict[int, tuple[int, float]] | None = None,
) -> list[Fused]:
    keyword_ranks = _ranked(keyword)
    if semantic_ranks is None:
        semantic_ranks = _ranked(semantic)
    fused = []
    for pid, score in scores.items():
        k_rank, k_score = keyword_ranks.get(pid, (None, None))
        s_rank, s_score = semantic_ranks.get(pid, (None, None))
        fused.append(Fused(pid, score, k_rank, k_score, s_rank, s_score))
    fused.sort(key=lambda item: (-item.score, item.pid))
    return fused


def single(candidates: Sequence[Candidate], side: str) -> list[Fused]:
    """One side's ranking as Fused items (for the keyword and semantic modes)."""
    empty: Sequence[Candidate] = ()
    keyword, semantic = (candidates, empty) if side == "keyword" else (empty, candidates)
    scores = {pid: score for pid, (_, score) in _ranked(candidates).items()}
    return _merge(keyword, semantic, scores)


def reciprocal_rank(
    keyword: Sequence[Candidate],
    semantic: Sequence[Candidate],
    k: int = 60,
    semantic_weight: float = 0.5,
) -> list[Fused]:
    """Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR 2009).

    score = (1 - w) / (k + keyword rank) + w / (k + semantic rank); with w = 0.5 this is
    plain RRF scaled by one half. k = 60 is the paper's constant and Elasticsearch's default.
    """
    scores: dict[int, float] = {}
    for weight, side in ((1.0 - semantic_weight, keyword), (semantic_weight, semantic)):
        for pid, (rank, _score) in _ranked(side).items():
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
    return _merge(keyword, semantic, scores)


def min_max(candidates: Sequence[Candidate]) -> dict[int, float]:
    """Scores rescaled to [0, 1] within the list; a list of equal scores maps to 1."""
    if not candidates:
        return {}
    high = max(c.score for c in candidates)
    low = min(c.score for c in candidates)
    spread = high - low
    return {
        pid: (score - low) / spread if spread > 0 else 1.0
        for pid, (_, score) in _ranked(candidates).items()
    }


def weighted(
    keyword: Sequence[Candidate],
    semantic: Sequence[Candidate],
    alpha: float,
    weights: Mapping[int, float] | None = None,
    feedback: Sequence[Candidate] = (),
    feedback_pids: Collection[int] = frozenset(),
) -> list[Fused]:
    """Convex combination of min-max normalized scores: alpha * semantic + (1 - alpha) * keyword.

    A paragraph missing from one side gets 0 for that side. `weights` gives some paragraphs
    their own semantic weight instead of alpha (see `language_weights`).

    Paragraphs in `feedback_pids` take their semantic score from the `feedback` ranking (a
    second semantic search, see `feedback_vector`) instead of the first one; the explanation
    then shows their rank and score in that ranking.
    """
    weights = weights or {}
    keyword_norm, semantic_norm = min_max(keyword), min_max(semantic)
    feedback_norm = {pid: v for pid, v in min_max(feedback).items() if pid in feedback_pids}
    scores: dict[int, float] = {}
    for pid in keyword_norm.keys() | semantic_norm.keys() | feedback_norm.keys():
        k_score = keyword_norm.get(pid, 0.0)
        source = feedback_norm if pid in feedback_pids else semantic_norm
        weight = weights.get(pid, alpha)
        scores[pid] = weight * source.get(pid, 0.0) + (1.0 - weight) * k_score
    semantic_ranks = _ranked(semantic)
    if feedback_norm:
        semantic_ranks = {pid: r for pid, r in semantic_ranks.items() if pid not in feedback_pids}
        semantic_ranks.update(
            (pid, r) for pid, r in _ranked(feedback).items() if pid in feedback_pids
        )
    return _merge(keyword, semantic, scores, semantic_ranks)


def keyword_first(keyword: Sequence[Candidate], semantic: Sequence[Candidate]) -> list[Fused]:
    """The keyword ranking (min-max scores), then the semantic-only paragraphs in their order
    with score 0: for queries in a language the encoder does not cover, whose vectors rank
    worse than the keyword side but still find something when no word matches."""
    keyword_norm = min_max(keyword)
    head = _merge(keyword, semantic, keyword_norm)
    semantic_ranks = _ranked(semantic)
    tail = [
        Fused(pid, 0.0, None, None, rank, score)
        for pid, (rank, score) in sorted(semantic_ranks.items(), key=lambda item: item[1][0])
        if pid not in keyword_norm
    ]
    return head + tail


def _rrf(keyword: Sequence[Candidate], semantic: Sequence[Candidate], alpha: float,
         rrf_k: int) -> list[Fused]:
    return reciprocal_rank(keyword, semantic, k=rrf_k, semantic_weight=alpha)


def _weighted(keyword: Sequence[Candidate], semantic: Sequence[Candidate], alpha: float,
              rrf_k: int) -> list[Fused]:
    return weighted(keyword, semantic, alpha)


_FUSERS: dict[FusionMethod, Callable[[Sequence[Candidate], Sequence[Candidate], float, int],
                                     list[Fused]]] = {
    FusionMethod.RRF: _rrf,
    FusionMethod.WEIGHTED: _weighted,
}


def fuse(method: FusionMethod, keyword: Sequence[Candidate], semantic: Sequence[Candidate],
         alpha: float, rrf_k: int = 60) -> list[Fused]:
    """Fuse the two rankings with `method`; alpha is the semantic side's weight."""
    return _FUSERS[method](keyword, semantic, alpha, rrf_k)


def with_translations(fused: Sequence[Fused], members: Mapping[int, Sequence[int]],
                      weight: float, top: int) -> list[Fused]:
    """The ranking with the translations of its first `top` paragraphs lifted: each member of
    such a paragraph's translation group (`members`: pid -> the other members) scores at
    least `weight` times that paragraph's score. A story's translations are as relevant as
    the story, and the groups find them where the vectors do not (Greek, Hindi, Vietnamese)."""
    scores = {item.pid: item.score for item in fused}
    lifted: dict[int, float] = {}
    for item in fused[:top]:
        for member in members.get(item.pid, ()):
            floor = weight * item.score
            if floor > max(scores.get(member, 0.0), lifted.get(member, 0.0)):
                lifted[member] = floor
    if not lifted:
        return list(fused)
    result = [replace(item, score=lifted.pop(item.pid)) if item.pid in lifted else item
              for item in fused]
    result += [Fused(pid, score) for pid, score in lifted.items()]
    result.sort(key=lambda item: (-item.score, item.pid))
    return result
