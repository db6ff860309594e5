"""Matching, evidence, date order and recency: pure functions, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from search.ranking.matching import MATCH, find_matches, scaled
from search.ranking.ordering import age_in_days, newest_first, recency_factor
from search.records import Candidate


@pytest.mark.parametrize(("value", "threshold", "expected"), [
    (0.30, 0.30, 0.5), (1.0, 0.30, 1.0), (0.65, 0.30, 0.75), (0.15, 0.30, 0.25),
    (0.0, 0.30, 0.0), (-0.2, 0.30, 0.0), (0.5, 0.5, 0.5), (0.25, 0.5, 0.25), (1.0, 1.0, 1.0),
])
def test_evidence_puts_the_threshold_at_one_half(value, threshold, expected):
    assert scaled(value, threshold) == pytest.approx(expected)


def test_a_candidate_matches_by_coverage_or_by_cosine():
    keyword = [Candidate(1, 9.0, 1.0), Candidate(2, 5.0, 0.25), Candidate(3, 4.0, 0.5)]
    semantic = [Candidate(4, 0.6), Candidate(2, 0.31), Candidate(5, 0.29)]
    found = find_matches(keyword, semantic, limit=10, floor=0.30, min_coverage=0.5)
    assert found.matched == {1, 2, 3, 4}
    assert found.evidence[5] < MATCH and found.best() == pytest.approx(1.0)
    assert found.complete


def test_nothing_matches_when_no_side_reaches_its_threshold():
    found = find_matches([Candidate(1, 3.0, 0.25)], [Candidate(2, 0.2)], 10, 0.3, 0.5)
    assert found.matched == set() and found.best() == 0.0 and found.complete


@pytest.mark.parametrize(("keyword", "semantic", "complete"), [
    # a full semantic window whose last cosine is still above the floor: more may match
    ([], [Candidate(1, 0.9), Candidate(2, 0.8)], False),
    # a full semantic window ending below the floor holds every semantic match
    ([], [Candidate(1, 0.9), Candidate(2, 0.1)], True),
    # coverage comes in no order, so a full keyword window may have missed some
    ([Candidate(1, 2.0, 0.1), Candidate(2, 1.0, 0.1)], [], False),
    ([Candidate(1, 2.0, 1.0)], [Candidate(2, 0.9)], True),
])
def test_the_total_is_a_lower_bound_when_a_side_fills_its_window(keyword, semantic, complete):
    assert find_matches(keyword, semantic, 2, 0.3, 0.5).complete is complete


TODAY = date(2025, 8, 1)


@pytest.mark.parametrize(("iso", "half_life", "expected"), [
    ("2025-08-01", 30, 1.0), ("2025-07-02", 30, 0.5), ("2025-06-02", 30, 0.25),
    ("2025-09-01", 30, 1.0),  # a future date counts as today
    (None, 30, 0.5), ("not a date", 30, 0.5),  # undated: one half-life old
])
def test_recency_halves_a_score_every_half_life(iso, half_life, expected):
    assert recency_factor(iso, TODAY, half_life) == pytest.approx(expected)


def test_age_in_days():
    assert age_in_days("2025-07-22", TODAY) == 10
    assert age_in_days("2025-07-22T10:00:00", TODAY) == 10
    assert age_in_days(None, TODAY) is None


def test_newest_first_puts_undated_last_and_keeps_relevance_for_ties():
    items = ["a", "b", "c", "d", "e"]
    dates = [None, "2025-07-01", "2025-07-22", None, "2025-07-01"]
    assert newest_first(items, dates) == ["c", "b", "e", "a", "d"]
