"""The pure parts of translation grouping: evidence, alignment, assignment, article versions."""

from __future__ import annotations

import numpy as np
import pytest

from search.translations import (
    ArticleVersion,
    Link,
    Member,
    after_removal,
    anchors_of,
    article_versions,
    assign,
)
from search.translations.alignment import align
from search.translations.evidence import anchor_score, jaccard


def test_anchors_survive_scripts():
    russian = anchors_of("Зеленский и Песков встретились 16 мая 2025 года в Пентагоне.")
    english = anchors_of("Zelenskiy and Peskov met on 16 May 2025 at the Pentagon.")
    assert russian.digits == english.digits == {"16", "2025"}
    assert {"zelenskiy", "peskov"} <= russian.words & english.words
    assert anchors_of("٢٠٢٥ and 007").digits == {"2025", "7"}  # Arabic-Indic digits, zeros


@pytest.mark.parametrize(("first", "second", "expected"), [
    (set(), set(), 0.0), ({"a"}, set(), 0.0), ({"a", "b"}, {"b", "c"}, 1 / 3),
    ({"a"}, {"a"}, 1.0)])
def test_jaccard(first, second, expected):
    assert jaccard(frozenset(first), frozenset(second)) == pytest.approx(expected)


def test_anchor_score_weighs_digits_over_words():
    same_numbers = anchor_score(anchors_of("in 1987 and 2300"), anchors_of("1987 und 2300"))
    same_name = anchor_score(anchors_of("Lindqvist spoke"), anchors_of("Lindqvist sprach"))
    assert same_numbers == pytest.approx(0.5)
    assert same_name == pytest.approx(0.5 * 0.5 * (1 / 3))


@pytest.mark.parametrize(("scores", "expected"), [
    ([[0.9, 0.1], [0.1, 0.9]], [(0, 0), (1, 1)]),
    ([[0.1, 0.9], [0.9, 0.1]], [(0, 1)]),  # crossing pairs: only one survives
    ([[0.5, 0.4, 0.1], [0.1, 0.1, 0.6]], [(0, 0), (1, 2)]),  # a skipped paragraph
    ([[0.2, 0.2], [0.2, 0.2]], []),  # nothing above the bar
    ([[0.4, 0.9, 0.0], [0.0, 0.0, 0.9]], [(0, 1), (1, 2)]),
])
def test_alignment_is_monotone_and_above_the_bar(scores, expected):
    assert align(np.array(scores), 0.3) == expected


def members(*specs):
    return [Member(pid, lang, article) for pid, lang, article in specs]


def test_assignment_keeps_one_paragraph_per_language_and_article():
    found = assign(members((1, "en", "a"), (2, "de", "b"), (3, "de", "c"), (4, "fr", "a")),
                   {}, [Link(1, 2, 0.9), Link(1, 3, 0.8), Link(2, 4, 0.7)])
    assert found == {1: 1, 2: 1, 3: 3, 4: 4}  # 3: a second German; 4: article a again


def test_existing_groups_keep_their_id_when_new_paragraphs_join():
    found = assign(members((5, "en", "a"), (9, "de", "b"), (12, "fr", "c")),
                   {5: 5, 9: 5}, [Link(12, 9, 0.5)])
    assert found == {5: 5, 9: 5, 12: 5}


def test_removal_renames_a_group_that_lost_its_first_member():
    assert after_removal([5], {5: [5, 9, 12], 7: [7, 8]}) == {9: 9, 12: 9}
    assert after_removal([8], {7: [7, 8]}) == {}


def test_article_versions_share_at_least_half_of_the_grouped_paragraphs():
    groups = {1: 1, 2: 2, 3: 3, 4: 4}
    group_members = {1: [1, 11, 21], 2: [2, 12], 3: [3, 23], 4: [4]}
    article_of = {1: "en", 2: "en", 3: "en", 4: "en", 11: "de", 12: "de", 21: "fr",
                  23: "fr2"}
    found = article_versions("en", [1, 2, 3, 4], groups, group_members, article_of)
    assert found == [ArticleVersion("de", 2)]  # fr and fr2: one of three each
    assert article_versions("en", [4], groups, group_members, article_of) == []
