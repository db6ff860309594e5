"""A generation's matches recorded as stories: one hit per translation group and alert.

A paragraph joins the story of its translation group's members kept earlier (the store keeps
a reported paragraph once, with its story: search/alerts/schema.py); a match in a story the
alert already has a hit on (from this generation or an earlier one) is added to that hit as a
translation instead of becoming a hit of its own, and so are the story's other new
paragraphs, matched or not, as the same story in another language: those are kept once for
every alert, not a row each. Everything, with the outbox rows and the new watermark, is
written in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from search.alerts.assign import assign
from search.alerts.evaluate import NewParagraph
from search.alerts.records import Alert, AlertMatches
from search.alerts.schema import select_in
from search.alerts.store import AlertStore, why_to_dict


@dataclass
class Recorded:
    """What one evaluation added: new hits and translations, and the deliveries queued."""

    hits: int = 0
    translations: int = 0
    deliveries: int = 0
    skipped: bool = False  # another process had evaluated these paragraphs already


def record(store: AlertStore, generation: str, watermark: int, next_pid: int,
           alerts: Sequence[Alert], matches: AlertMatches,
           paragraphs: Mapping[int, NewParagraph], partners: Mapping[int, Sequence[int]]
           ) -> Recorded:
    """Write the matches of the paragraphs from `watermark` to `next_pid` (`partners`: the
    other members of each new paragraph's translation group)."""
    done = Recorded()
    by_id = {a.id: a for a in alerts}
    with store.transaction() as db:
        if store.watermark() != watermark:
            done.skipped = True
            return done
        kept = _kept_stories(db, sorted({m for pid in paragraphs
                                            for m in partners.get(pid, ())
                                            if m not in paragraphs}))
        story_of = _stories(sorted(paragraphs), partners, kept.story_of)
        first_row, next_hit = _next_ids(db)
        assigned = assign(matches, story_of, kept.hits_on, next_hit, by_id)
        kept_pids = assigned.kept_pids.tolist()
        row = {pid: first_row + n for n, pid in enumerate(kept_pids)}
        story = {key: row[-key] if key < 0 else key for key in set(story_of.values())
                 if key >= 0 or -key in row}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        whys = _whys(matches)
        hit_of = assigned.hit_of.tolist()
        opening = assigned.opening.tolist()
        others = np.ones(len(hit_of), dtype=bool)
        others[assigned.opening] = False
        _write(
            db, [_paragraph_row(row[pid], story[story_of[pid]], first_row, generation,
                                paragraphs[pid], now) for pid in kept_pids],
            [(hit_of[n], matches.alert_ids[n], row[matches.pids[n]], matches.scores[n], whys[n])
             for n in opening],
            [(hit_of[n], row[matches.pids[n]], whys[n]) for n in np.flatnonzero(others).tolist()])
        done.hits, done.translations = len(opening), assigned.translations
        for alert_id, hit_ids in assigned.touched.items():
            for channel in by_id[alert_id].channels:
                db.execute("INSERT OR IGNORE INTO outbox (alert_id, channel, generation,"
                           " hit_ids) VALUES (?, ?, ?, ?)",
                           (alert_id, channel.value, generation, json.dumps(hit_ids)))
                done.deliveries += 1
        db.execute("INSERT OR REPLACE INTO state VALUES ('watermark', ?)", (str(next_pid),))
    return done


def _stories(pids: Sequence[int], partners: Mapping[int, Sequence[int]],
             kept: Mapping[int, int]) -> dict[int, int]:
    """Each new paragraph's story: the earliest story its group's kept members belong to,
    else that of its first new member, which is -(that member's pid) until it has a row."""
    story_of: dict[int, int] = {}
    for pid in pids:
        members = partners.get(pid, ())
        known = [kept[m] for m in members if m in kept]
        earlier = [m for m in members if m in story_of]
        story_of[pid] = (min(known) if known else story_of[min(earlier)] if earlier else -pid)
    return story_of


@dataclass
class _Kept:
    """Which story kept paragraphs belong to (pid -> story), and each story's hits by alert."""

    story_of: dict[int, int] = field(default_factory=dict)
    hits_on: dict[int, dict[int, int]] = field(default_factory=dict)


def _kept_stories(db: sqlite3.Connection, pids: Sequence[int]) -> _Kept:
    """The stories kept paragraphs of `pids` belong to, and the alerts' hits on them."""
    found = _Kept()
    found.story_of.update(select_in(
        db, "SELECT pid, min(story) FROM paragraphs WHERE pid IN ({marks}) GROUP BY pid", pids))
    for story, alert_id, hit_id in select_in(
            db, "SELECT p.story, h.alert_id, min(h.id) FROM hits h JOIN paragraphs p"
            " ON p.id = h.paragraph WHERE p.story IN ({marks}) GROUP BY p.story, h.alert_id",
            sorted(set(found.story_of.values()))):
        found.hits_on.setdefault(story, {})[alert_id] = hit_id
    return found

def _next_ids(db: sqlite3.Connection) -> tuple[int, int]:
    """The next free paragraph row and hit id, in a write transaction (a generation's
    rows are written at once, their ids given by the writer)."""
    paragraph = db.execute("SELECT coalesce(max(id), 0) + 1 FROM paragraphs").fetchone()[0]
    hit = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'hits'").fetchone()
    return paragraph, (hit[0] if hit else 0) + 1

def _write(db: sqlite3.Connection, paragraphs: Sequence[tuple],
                  hits: Sequence[tuple], translations: Sequence[tuple]) -> None:
    """Rows of a generation, their ids given (_next_ids): paragraphs (id, story, batch,
    generation, pid, paragraph_id, article_id, title, lang, text, url, found), hits (id,
    alert_id, paragraph, score, why) and the translations that matched (hit_id,
    paragraph, why)."""
    db.executemany("INSERT INTO paragraphs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   paragraphs)
    db.executemany("INSERT INTO hits VALUES (?, ?, ?, ?, ?)", hits)
    db.executemany("INSERT INTO translations VALUES (?, ?, ?)", sorted(translations))


def _paragraph_row(row: int, story: int, batch: int, generation: str, paragraph: NewParagraph,
                   now: str) -> tuple:
    p, article = paragraph.record, paragraph.article
    return (row, story, batch, generation, p.pid, p.paragraph_id, article.id, article.title,
            p.lang, p.text, article.url, now)


def _whys(matches: AlertMatches) -> list[str]:
    """Each match's why as stored. A cosine alone, by far the most frequent, is written
    directly (a float's repr is JSON), once per value."""
    alone = {cosine: "{}" if cosine is None else f'{{"cosine": {float(cosine)!r}}}'
             for cosine in set(matches.cosines)}
    whys = [alone[cosine] for cosine in matches.cosines]
    for n, why in matches.worded.items():
        whys[n] = json.dumps(why_to_dict(why))
    return whys
