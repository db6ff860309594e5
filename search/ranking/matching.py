"""Which candidates match a query, and how strong each one's evidence is on an absolute scale.

Fused scores are relative (min-max within the query), so the best candidate scores about 1
whatever it is. Matching uses each side's absolute evidence instead:

- keyword: the candidate contains at least `min_coverage` (half) of the query's distinct
  analysed terms, as Elasticsearch's `minimum_should_match: 50%` (a one-term query needs
  that term);
- semantic: the cosine of its vector with the query's is at or above the model's floor for
  a paragraph in the query's language or in another (search/encoders/calibration.py),
  calibrated on XQuAD-R by bench/absent.py (docs/benchmarks.md); a paragraph whose story
  the index also holds in the query's language is judged as that version is.

Both map onto one evidence scale, 0..1, on which 0.5 is the line between a match and not:
a cosine from [floor, 1] onto [0.5, 1] and from [0, floor] onto [0, 0.5]; a coverage from
[min_coverage, 1] onto [0.5, 1] and from [0, min_coverage] onto [0, 0.5]. A candidate's
evidence is the larger of its two sides (only the side the mode searches counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from search.encoders.calibration import SemanticFloors
from search.records import Candidate

MATCH = 0.5  # the evidence of a candidate exactly at the floor or exactly at min_coverage


def scaled(value: float, threshold: float) -> float:
    """`value` (0..1) on the evidence scale: `threshold` maps to 0.5, 1 to 1, 0 (and below)
    to 0."""
    value = min(max(value, 0.0), 1.0)
    if threshold <= 0.0:
        return 1.0
    if value >= threshold:
        return 1.0 if threshold >= 1.0 else MATCH + MATCH * (value - threshold) / (1 - threshold)
    return MATCH * value / threshold


def scaled_rows(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """`scaled` of every value against its threshold, at once (alerts judge whole rows)."""
    values = np.clip(values, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = np.where(thresholds >= 1.0, 1.0,
                         MATCH + MATCH * (values - thresholds) / (1 - thresholds))
        below = MATCH * values / thresholds
    return np.where(thresholds <= 0.0, 1.0, np.where(values >= thresholds, above, below))


@dataclass(frozen=True)
class Matches:
    """The evidence of every candidate of both sides' count windows, and what it says.

    `complete` is False when a side filled its window with candidates that may still match
    (more might lie beyond it): the total is then a lower bound."""

    evidence: dict[int, float]
    coverage: dict[int, float]
    complete: bool

    @cached_property
    def matched(self) -> set[int]:
        return {pid for pid, value in self.evidence.items() if value >= MATCH}

    def best(self) -> float:
        """The best evidence of any match (0 when none matches)."""
        found = [value for value in self.evidence.values() if value >= MATCH]
        return max(found, default=0.0)


def find_matches(keyword: Sequence[Candidate], semantic: Sequence[Candidate], limit: int,
                 floors: SemanticFloors, query_lang: str, min_coverage: float,
                 members: Mapping[int, int] | None = None) -> Matches:
    """The evidence of the candidates of both sides (each asked for `limit`, best first).

    A semantic candidate is held to the floor for its language and `query_lang`; one whose
    translation group has a member in the query's language (`members`: pid -> that member)
    is its story told in another language, and is held to the same-language floor with the
    better of its own cosine and its member's: across languages the floor is lower, and a
    story present in the query's language is judged where its cosine is comparable."""
    coverage = {c.pid: c.coverage for c in keyword if c.coverage is not None}
    cosine: dict[int, tuple[float, str | None]] = {}
    for candidate in semantic:
        cosine.setdefault(candidate.pid, (candidate.score, candidate.lang))
    members = members or {}
    # A query's coverages take a few values (shares of its terms): each is scaled once.
    levels = {value: scaled(value, min_coverage) for value in set(coverage.values())}
    evidence = {pid: levels[value] for pid, value in coverage.items()}
    for pid, (value, lang) in cosine.items():
        member = members.get(pid)
        if member is None:
            semantic_evidence = scaled(value, floors.floor(query_lang, lang))
        else:
            best = max(value, cosine.get(member, (value, None))[0])
            semantic_evidence = scaled(best, floors.same)
        evidence[pid] = max(evidence.get(pid, 0.0), semantic_evidence)
    # Cosines come best first, so a full semantic window whose last candidate is below the
    # lower floor holds every semantic match; coverage is in no order, so a full keyword
    # window may always have missed some.
    semantic_open = len(semantic) >= limit > 0 and semantic[-1].score >= floors.lowest
    keyword_open = len(keyword) >= limit > 0
    return Matches(evidence, coverage, not (semantic_open or keyword_open))
