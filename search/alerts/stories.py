"""A generation's matches recorded as stories: one hit per translation group and alert.

A match whose translation group already holds a paragraph the alert reported (in this
generation or an earlier one) is added to that hit as a translation instead of becoming a hit
of its own; so are the group's other new paragraphs, matched or not, as the same story in
another language. Everything, with the outbox rows and the new watermark, is written in one
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from search.alerts.evaluate import Match, NewParagraph
from search.alerts.records import Alert, Why
from search.alerts.store import AlertStore, why_to_dict


@dataclass
class Recorded:
    """What one evaluation added: new hits and translations, and the deliveries queued."""

    hits: int = 0
    translations: int = 0
    deliveries: int = 0
    skipped: bool = False  # another process had evaluated these paragraphs already


def record(store: AlertStore, generation: str, watermark: int, next_pid: int,
           alerts: Sequence[Alert], matches: Sequence[Match],
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
        wanted = sorted({m for pid in paragraphs for m in (pid, *partners.get(pid, ()))})
        owner = store.hit_of(db, wanted)
        first_row, next_hit = store.next_ids(db)
        hits: list[tuple] = []  # (hit id, alert id, pid, score, why)
        joined: list[tuple[int, int, str | None]] = []  # (hit id, pid, why)
        touched: dict[int, set[int]] = {}
        for match in matches:
            if (match.alert_id, match.pid) in owner:
                continue
            story = _story(owner, match.alert_id, partners.get(match.pid, ()))
            if story is None:
                story, next_hit = next_hit, next_hit + 1
                hits.append((story, match.alert_id, match.pid, match.score,
                             _json(match.why) or "{}"))
            else:
                joined.append((story, match.pid, _json(match.why)))
            owner[(match.alert_id, match.pid)] = story
            touched.setdefault(match.alert_id, set()).add(story)
        # The same story arriving in another language without matching on its own.
        stories: dict[int, list[tuple[int, int]]] = {}
        for (alert_id, member), hit_id in owner.items():
            stories.setdefault(member, []).append((alert_id, hit_id))
        for pid in sorted(paragraphs):
            for member in partners.get(pid, ()):
                for alert_id, hit_id in stories.get(member, ()):
                    if (alert_id, pid) not in owner and alert_id in by_id:
                        joined.append((hit_id, pid, None))
                        owner[(alert_id, pid)] = hit_id
                        touched.setdefault(alert_id, set()).add(hit_id)
        reported = sorted({h[2] for h in hits} | {j[1] for j in joined})
        row = {pid: first_row + n for n, pid in enumerate(reported)}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        store.write_stories(
            db, [_paragraph_row(row[pid], generation, paragraphs[pid], now) for pid in reported],
            [(hit_id, alert_id, row[pid], score, why)
             for hit_id, alert_id, pid, score, why in hits],
            [(hit_id, row[pid], why) for hit_id, pid, why in joined])
        done.hits, done.translations = len(hits), len(joined)
        for alert_id, hit_ids in touched.items():
            for channel in by_id[alert_id].channels:
                db.execute("INSERT OR IGNORE INTO outbox (alert_id, channel, generation,"
                           " hit_ids) VALUES (?, ?, ?, ?)",
                           (alert_id, channel.value, generation, json.dumps(sorted(hit_ids))))
                done.deliveries += 1
        db.execute("INSERT OR REPLACE INTO state VALUES ('watermark', ?)", (str(next_pid),))
    return done


def _paragraph_row(row: int, generation: str, paragraph: NewParagraph, now: str) -> tuple:
    p, article = paragraph.record, paragraph.article
    return (row, generation, p.pid, p.paragraph_id, article.id, article.title, p.lang, p.text,
            article.url, now)


def _json(why: Why) -> str | None:
    """`why` as stored (None: it joined its story without matching). A cosine alone, by far
    the most frequent, is written directly (a float's repr is JSON)."""
    if not why.words and why.coverage is None:
        return None if why.cosine is None else f'{{"cosine": {float(why.cosine)!r}}}'
    return json.dumps(why_to_dict(why))


def _story(owner: Mapping[tuple[int, int], int], alert_id: int,
           partners: Sequence[int]) -> int | None:
    for member in partners:
        hit_id = owner.get((alert_id, member))
        if hit_id is not None:
            return hit_id
    return None
