from __future__ import annotations

import numpy as np
import pytest

from search.ranking.fusion import (
    Fused,
    FusionMethod,
    fuse,
    keyword_first,
    min_max,
    reciprocal_rank,
    single,
    weighted,
    with_translations,
)
from search.ranking.policy import feedback_vector, language_weights
from search.records import Candidate


def ranked(*pids_scores):
    return [Candidate(pid, score) for pid, score in pids_scores]


KEYWORD = ranked((1, 9.0), (2, 5.0), (3, 1.0))
SEMANTIC = ranked((3, 0.9), (4, 0.8), (1, 0.5))


@pytest.mark.parametrize(
    "keyword, semantic, k, expected",
    [
        # 1: 1/61 + 1/63, 3: 1/63 + 1/61 -> tie broken by pid; 2: 1/62, 4: 1/62
        (KEYWORD, SEMANTIC, 60, [1, 3, 2, 4]),
        (KEYWORD, [], 60, [1, 2, 3]),
        ([], SEMANTIC, 60, [3, 4, 1]),
        ([], [], 60, []),
        # a small constant rewards being first on one side over two middling ranks
        (ranked((7, 1.0), (8, 0.5)), ranked((8, 1.0), (9, 0.1)), 1, [8, 7, 9]),
    ],
)
def test_reciprocal_rank_orders_and_breaks_ties_by_id(keyword, semantic, k, expected):
    assert [f.pid for f in reciprocal_rank(keyword, semantic, k=k)] == expected


def test_reciprocal_rank_scores_and_explains():
    fused = {f.pid: f for f in reciprocal_rank(KEYWORD, SEMANTIC, k=60)}
    assert fused[1].score == pytest.approx(0.5 / 61 + 0.5 / 63)
    assert (fused[1].keyword_rank, fused[1].keyword_score) == (1, 9.0)
    assert (fused[1].semantic_rank, fused[1].semantic_score) == (3, 0.5)
    assert fused[2].semantic_rank is None and fused[4].keyword_rank is None


@pytest.mark.parametrize(
    "scores, expected",
    [
        ([(1, 3.0), (2, 2.0), (3, 1.0)], {1: 1.0, 2: 0.5, 3: 0.0}),
        ([(1, 2.0), (2, 2.0)], {1: 1.0, 2: 1.0}),
        ([], {}),
    ],
)
def test_min_max(scores, expected):
    assert min_max(ranked(*scores)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "alpha, expected",
    [
        (0.0, [1, 2, 3, 4]),  # keyword only: 4 has no keyword score, last
        (1.0, [3, 4, 1, 2]),  # semantic only
        (0.5, [1, 3, 4, 2]),  # 1 and 3 both score .5: the tie goes to the lower id
    ],
)
def test_weighted_follows_alpha(alpha, expected):
    fused = weighted(KEYWORD, SEMANTIC, alpha)
    assert [f.pid for f in fused] == expected


def test_weighted_exact_scores():
    fused = {f.pid: f.score for f in weighted(KEYWORD, SEMANTIC, 0.6)}
    # keyword norm: 1 -> 1, 2 -> .5, 3 -> 0; semantic norm: 3 -> 1, 4 -> .75, 1 -> 0
    assert fused == pytest.approx({1: 0.4, 2: 0.2, 3: 0.6, 4: 0.45})
    assert [f.pid for f in weighted(KEYWORD, SEMANTIC, 0.6)] == [3, 4, 1, 2]


def test_single_keeps_one_side_order_and_explains_it():
    fused = single(SEMANTIC, "semantic")
    assert [(f.pid, f.semantic_rank, f.keyword_rank) for f in fused] == [
        (3, 1, None), (4, 2, None), (1, 3, None)]


def test_fuse_dispatches():
    assert fuse(FusionMethod.RRF, KEYWORD, SEMANTIC, 0.5) == reciprocal_rank(KEYWORD, SEMANTIC)
    assert fuse(FusionMethod.WEIGHTED, KEYWORD, SEMANTIC, 0.6) == weighted(
        KEYWORD, SEMANTIC, 0.6)


def test_duplicate_candidates_keep_their_best_rank():
    fused = single(ranked((5, 2.0), (5, 1.0), (6, 0.5)), "keyword")
    assert [(f.pid, f.keyword_rank) for f in fused] == [(5, 1), (6, 3)]


@pytest.mark.parametrize(
    "query_lang, covered, expected",
    [
        # 1 is in the query's language, 2 in another covered one, 3 in an uncovered one
        ("en", {"en", "de"}, {1: 0.5, 2: 0.8, 3: 0.5}),
        ("de", {"en", "de"}, {1: 0.8, 2: 0.5, 3: 0.5}),
        ("en", None, {1: 0.5, 2: 0.8, 3: 0.8}),  # unknown coverage: every language counts
    ],
)
def test_language_weights(query_lang, covered, expected):
    langs = {1: "en", 2: "de", 3: "hi"}
    assert language_weights(langs, query_lang, 0.5, 0.8, covered) == expected


def test_weighted_uses_per_paragraph_weights():
    # keyword norm: 1 -> 1, 2 -> .5, 3 -> 0; semantic norm: 3 -> 1, 4 -> .75, 1 -> 0
    fused = {f.pid: f.score for f in weighted(KEYWORD, SEMANTIC, 0.5, weights={3: 1.0, 2: 0.0})}
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 1.0, 4: 0.375})


@pytest.mark.parametrize(
    "feedback, feedback_pids, expected",
    [
        # no feedback: alpha .5 over KEYWORD and SEMANTIC
        ([], set(), {1: 0.5, 2: 0.25, 3: 0.5, 4: 0.375}),
        # 4 and a new paragraph 5 take their semantic score from the feedback ranking
        (ranked((5, 0.9), (4, 0.1)), {4, 5}, {1: 0.5, 2: 0.25, 3: 0.5, 4: 0.0, 5: 0.5}),
        # feedback paragraphs outside feedback_pids are ignored
        (ranked((5, 0.9), (4, 0.1)), {4}, {1: 0.5, 2: 0.25, 3: 0.5, 4: 0.0}),
    ],
)
def test_weighted_feedback_replaces_semantic_scores(feedback, feedback_pids, expected):
    fused = weighted(KEYWORD, SEMANTIC, 0.5, feedback=feedback, feedback_pids=feedback_pids)
    assert {f.pid: f.score for f in fused} == pytest.approx(expected)


def test_weighted_explains_feedback_ranks():
    fused = {f.pid: f for f in weighted(KEYWORD, SEMANTIC, 0.5, feedback=ranked(
        (5, 0.9), (4, 0.1)), feedback_pids={4, 5})}
    assert (fused[5].semantic_rank, fused[5].semantic_score) == (1, 0.9)
    assert (fused[4].semantic_rank, fused[4].semantic_score) == (2, 0.1)
    assert (fused[3].semantic_rank, fused[3].semantic_score) == (1, 0.9)


@pytest.mark.parametrize(
    "keyword, semantic, expected",
    [
        (KEYWORD, SEMANTIC, [(1, 1.0), (2, 0.5), (3, 0.0), (4, 0.0)]),
        ([], SEMANTIC, [(3, 0.0), (4, 0.0), (1, 0.0)]),  # semantic order, not pid order
        (KEYWORD, [], [(1, 1.0), (2, 0.5), (3, 0.0)]),
        ([], [], []),
    ],
)
def test_keyword_first(keyword, semantic, expected):
    assert [(f.pid, f.score) for f in keyword_first(keyword, semantic)] == expected


@pytest.mark.parametrize(
    "query, passage, weight, expected",
    [
        ([1.0, 0.0], [0.0, 1.0], 1.0, [0.70710677, 0.70710677]),
        ([1.0, 0.0], [0.0, 1.0], 0.0, [1.0, 0.0]),
        ([1.0, 0.0], [-1.0, 0.0], 1.0, [1.0, 0.0]),  # cancels out: keep the query
    ],
)
def test_feedback_vector(query, passage, weight, expected):
    vector = feedback_vector(np.array(query), np.array(passage), weight)
    assert vector.dtype == np.float32
    assert vector.tolist() == pytest.approx(expected)


def test_translations_of_the_first_paragraphs_are_lifted_after_them():
    fused = [Fused(1, 1.0), Fused(2, 0.8), Fused(3, 0.5), Fused(4, 0.1)]
    # 1's translations: 4 (ranked low) and 9 (not ranked); 3 is past `top`.
    lifted = with_translations(fused, {1: [4, 9], 3: [7]}, weight=0.9, top=2)
    assert [(f.pid, f.score) for f in lifted] == [(1, 1.0), (4, 0.9), (9, 0.9), (2, 0.8),
                                                  (3, 0.5)]
    # A member already scoring higher keeps its score; weight 0 lifts nothing.
    assert with_translations(fused, {2: [1]}, weight=0.9, top=2) == fused
    assert [f.pid for f in with_translations(fused, {1: [4]}, 0.0, 2)] == [1, 2, 3, 4]
