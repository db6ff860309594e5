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
    now = datetime.now(UTC).isoformat(timespec="seconds")
    by_id = {a.id: a for a in alerts}
    with store.transaction() as db:
        if store.watermark() != watermark:
            done.skipped = True
            return done
        wanted = sorted({m for pid in paragraphs for m in (pid, *partners.get(pid, ()))})
        owner = store.hit_of(db, wanted)
        touched: dict[int, set[int]] = {}

        translations: list[tuple] = []
        members: list[tuple[int, int, int]] = []

        def join(alert_id: int, pid: int, hit_id: int, why: Why) -> None:
            p = paragraphs[pid]
            translations.append((hit_id, pid, p.record.paragraph_id, p.record.lang,
                                 p.article.title, generation, json.dumps(why_to_dict(why)),
                                 now))
            members.append((alert_id, pid, hit_id))
            owner[(alert_id, pid)] = hit_id
            touched.setdefault(alert_id, set()).add(hit_id)
            done.translations += 1

        for match in matches:
            if (match.alert_id, match.pid) in owner:
                continue
            story = _story(owner, match.alert_id, partners.get(match.pid, ()))
            if story is not None:
                join(match.alert_id, match.pid, story, match.why)
                continue
            p = paragraphs[match.pid]
            hit_id = db.execute(
                "INSERT INTO hits (alert_id, generation, pid, paragraph_id, article_id, title,"
                " lang, score, text, why, url, found) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (match.alert_id, generation, match.pid, p.record.paragraph_id, p.article.id,
                 p.article.title, p.record.lang, match.score, p.record.text,
                 json.dumps(why_to_dict(match.why)), p.article.url, now)).lastrowid
            assert hit_id is not None
            members.append((match.alert_id, match.pid, hit_id))
            owner[(match.alert_id, match.pid)] = hit_id
            touched.setdefault(match.alert_id, set()).add(hit_id)
            done.hits += 1
        # The same story arriving in another language without matching on its own.
        stories: dict[int, list[tuple[int, int]]] = {}
        for (alert_id, member), hit_id in owner.items():
            stories.setdefault(member, []).append((alert_id, hit_id))
        for pid in sorted(paragraphs):
            for member in partners.get(pid, ()):
                for alert_id, hit_id in stories.get(member, ()):
                    if (alert_id, pid) not in owner and alert_id in by_id:
                        join(alert_id, pid, hit_id, Why())
        db.executemany("INSERT INTO translations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", translations)
        db.executemany("INSERT INTO members VALUES (?, ?, ?)", members)
        for alert_id, hit_ids in touched.items():
            for channel in by_id[alert_id].channels:
                db.execute("INSERT OR IGNORE INTO outbox (alert_id, channel, generation,"
                           " hit_ids) VALUES (?, ?, ?, ?)",
                           (alert_id, channel.value, generation, json.dumps(sorted(hit_ids))))
                done.deliveries += 1
        db.execute("INSERT OR REPLACE INTO state VALUES ('watermark', ?)", (str(next_pid),))
    return done


def _story(owner: Mapping[tuple[int, int], int], alert_id: int,
           partners: Sequence[int]) -> int | None:
    for member in partners:
        hit_id = owner.get((alert_id, member))
        if hit_id is not None:
            return hit_id
    return None
