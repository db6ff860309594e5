"""Which of a generation's matches become hits, and which join a hit as translations.

A match on a story (a translation group, search.alerts.stories) the alert has no hit on yet
becomes a hit, the first in match order; every other match on that story, and every match on
a story the alert has a hit on from an earlier generation, is a translation of that hit. The
story's other new paragraphs join its hits as translations too, matched or not. Pure and
columnar: a generation at 10,000 alerts makes hundreds of thousands of matches.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from search.alerts.arrays import sorted_runs, within
from search.alerts.records import AlertMatches

_ALERT_BITS = 32  # a (story, alert) or (alert, hit) pair as one int64


@dataclass(frozen=True)
class Assignment:
    """Each match's hit (`hit_of`, by row), the rows that open a new hit (in hit id order),
    the new paragraphs kept (those of stories with hits, by pid), how many translations the
    generation added, and the hits each alert's delivery names."""

    hit_of: np.ndarray
    opening: np.ndarray
    kept_pids: np.ndarray
    translations: int
    touched: dict[int, list[int]]


def assign(matches: AlertMatches, story_of: Mapping[int, int],
           earlier: Mapping[int, Mapping[int, int]], next_hit: int,
           alert_ids: Collection[int]) -> Assignment:
    """`story_of`: each new paragraph's story; `earlier`: story -> alert -> its hit from an
    earlier generation; new hits are numbered from `next_hit`; only `alert_ids` are
    evaluated."""
    new_pids = np.array(sorted(story_of), dtype=np.int64)
    stories = np.array([story_of[pid] for pid in new_pids.tolist()], dtype=np.int64)
    alerts = np.asarray(matches.alert_ids, dtype=np.int64)
    pids = np.asarray(matches.pids, dtype=np.int64)
    keys = stories[np.searchsorted(new_pids, pids)] << _ALERT_BITS | alerts

    old = sorted((story << _ALERT_BITS | alert, hit) for story, hits in earlier.items()
                 for alert, hit in hits.items())
    old_keys = np.array([key for key, _ in old], dtype=np.int64)
    old_hits = np.array([hit for _, hit in old], dtype=np.int64)
    hit_of = np.zeros(len(keys), dtype=np.int64)
    on_old = within(keys, old_keys)
    hit_of[on_old] = old_hits[np.searchsorted(old_keys, keys[on_old])]

    fresh = np.flatnonzero(~on_old)
    by_key = fresh[np.argsort(keys[fresh], kind="stable")]  # a key's first match leads
    leads = np.concatenate(([True], keys[by_key[1:]] != keys[by_key[:-1]])) \
        if len(by_key) else np.zeros(0, dtype=bool)
    opening = np.sort(by_key[leads])
    hit_of[opening] = next_hit + np.arange(len(opening))
    opened_keys = keys[opening]
    order = np.argsort(opened_keys)
    hit_of[fresh] = hit_of[opening[order]][np.searchsorted(opened_keys[order], keys[fresh])]

    # Every hit on the new paragraphs' stories, by story: their other versions join them.
    table_keys = np.concatenate([old_keys, opened_keys])
    table_hits = np.concatenate([old_hits, hit_of[opening]])
    order = np.argsort(table_keys, kind="stable")
    table_keys, table_hits = table_keys[order], table_hits[order]
    table_stories = table_keys >> _ALERT_BITS
    first = np.searchsorted(table_stories, stories, side="left")
    counts = np.searchsorted(table_stories, stories, side="right") - first
    rows = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    member = np.repeat(new_pids, counts)
    member_alerts = table_keys[rows] & ((1 << _ALERT_BITS) - 1)
    joins = within(member_alerts, np.sort(np.fromiter(alert_ids, dtype=np.int64))) & ~within(
        member_alerts << _ALERT_BITS | member, np.sort(alerts << _ALERT_BITS | pids))

    pairs = np.concatenate([alerts << _ALERT_BITS | hit_of,
                            member_alerts[joins] << _ALERT_BITS | table_hits[rows][joins]])
    touched: dict[int, list[int]] = {}
    for pair in sorted_runs(np.sort(pairs))[0].tolist():
        touched.setdefault(pair >> _ALERT_BITS, []).append(pair & ((1 << _ALERT_BITS) - 1))
    return Assignment(hit_of, opening, new_pids[counts > 0],
                      len(keys) - len(opening) + int(joins.sum()), touched)

