"""Which matches open hits and which join them (search/alerts/assign.py), on columns."""

from __future__ import annotations

from search.alerts.assign import assign
from search.alerts.records import AlertMatches


def test_a_story_s_first_match_opens_the_hit_and_its_other_versions_join_it():
    # Paragraphs 10 and 11 join a kept story (row 5) on which alert 1 has hit 100 (and alert
    # 3, not evaluated now, hit 300); 12 and 13 are a new story, named by its first pid.
    story_of = {10: 5, 11: 5, 12: -12, 13: -12}
    matches = AlertMatches([2, 1, 2, 2, 1], [10, 11, 11, 13, 12], [0.6] * 5, [0.9] * 5)
    done = assign(matches, story_of, {5: {1: 100, 3: 300}}, 200, {1: None, 2: None})
    assert done.hit_of.tolist() == [200, 100, 200, 201, 202]
    assert done.opening.tolist() == [0, 3, 4]
    assert done.kept_pids.tolist() == [10, 11, 12, 13]
    # Matched translations (rows 1 and 2), and versions that did not match: 10 for alert 1,
    # 12 for alert 2, 13 for alert 1.
    assert done.translations == 5
    assert done.touched == {1: [100, 202], 2: [200, 201]}


def test_no_matches_keep_nothing():
    done = assign(AlertMatches(), {10: -10}, {}, 1, {1: None})
    assert (done.hit_of.tolist(), done.kept_pids.tolist(), done.translations,
            done.touched) == ([], [], 0, {})
