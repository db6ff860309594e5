"""The alert store: one SQLite database beside the index (INDEX/alerts.sqlite).

It holds the alerts, their query vectors (by model), the hits each generation gave them with
the translations added later, the outbox of deliveries and the *watermark*: every paragraph
whose id is below it has been evaluated. Paragraph ids are given in order and never reused,
so the paragraphs still to evaluate are exactly the live ones at or above the watermark,
however many generations a crash skipped. A generation's hits, its outbox rows and the new
watermark are written in one transaction, so a crash before it repeats the evaluation and a
crash after it only leaves deliveries pending: never a hit twice. WAL lets readers (the web
pages, the feed) read while a writer writes; a read-only index is read without it.

The tables are in search/alerts/schema.py. One module because every table's writes share
the transactions above (~380 lines).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from search.alerts import schema
from search.alerts.records import (
    Alert,
    AlertHit,
    AlertKind,
    Channel,
    Delivery,
    Translation,
    Why,
)
from search.alerts.terms import WordTerms
from search.analysis import AnalysedWord
from search.errors import AlertNotFound, IndexUnwritable, InvalidAlert
from search.ranking.explain import MatchForm, TermMatch
from search.ranking.query import Mode
from search.records import Filters

FILE_NAME = "alerts.sqlite"
PENDING, DONE, FAILED = "pending", "done", "failed"


def store_path(index_dir: Path | str) -> Path:
    return Path(index_dir) / FILE_NAME


def why_to_dict(why: Why) -> dict:
    return {"words": [{"word": w.query_word, "form": w.form.value, "found": list(w.found)}
                      for w in why.words],
            "coverage": why.coverage, "cosine": why.cosine}


def why_from_dict(data: dict) -> Why:
    return Why(tuple(TermMatch(w["word"], MatchForm(w["form"]), tuple(w["found"]))
                     for w in data.get("words", ())), data.get("coverage"), data.get("cosine"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AlertStore:
    """The alerts of one index folder. `writable=False` opens an existing store read-only
    (a read-only index); a writable store is created on first use."""

    def __init__(self, index_dir: Path | str, writable: bool = True) -> None:
        self.path = store_path(index_dir)
        self.writable = writable
        self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        if not self.writable:
            if not self.path.is_file():
                raise AlertNotFound(f"no alerts are kept with {self.path.parent}: "
                                    "`search alert add` makes one")
            uri = f"file:{self.path}?mode=ro"
            try:
                db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                db.execute("SELECT count(*) FROM alerts").fetchone()
            except sqlite3.Error:  # WAL needs its shared-memory file: a read-only folder has none
                db = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True,
                                     check_same_thread=False)
            return schema.readable(db)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            # A generation at 10,000 alerts writes ~10^6 rows to indexes in one transaction.
            db.execute("PRAGMA cache_size = -65536")
            schema.create(db)
        except (sqlite3.OperationalError, OSError) as exc:
            raise IndexUnwritable(
                f"alerts cannot be changed: {self.path} cannot be written ({exc}); queries "
                "and the alerts' feeds still work") from None
        return db

    @classmethod
    def exists(cls, index_dir: Path | str) -> bool:
        return store_path(index_dir).is_file()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so that two writers queue."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- alerts --------------------------------------------------------------------------
    def add(self, name: str, kind: AlertKind, text: str, mode: Mode, filters: Filters,
            since_pid: int, webhook_url: str | None = None, email: str | None = None
            ) -> Alert:
        """Store a new alert; it watches paragraphs from id `since_pid` on."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM alerts WHERE name = ?", (name,)).fetchone():
                raise InvalidAlert(f"an alert named {name!r} exists already: choose another "
                                   "--name or remove it first")
            secret = secrets.token_urlsafe(32) if webhook_url else None
            db.execute(
                "INSERT INTO alerts (name, kind, text, mode, filters, feed_token, created,"
                " since_pid, webhook_url, webhook_secret, email)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, kind.value, text, mode.value, json.dumps(asdict(filters)),
                 secrets.token_urlsafe(24), _now(), since_pid, webhook_url, secret, email))
            if db.execute("SELECT 1 FROM state WHERE key = 'watermark'").fetchone() is None:
                db.execute("INSERT INTO state VALUES ('watermark', ?)", (str(since_pid),))
        return self.get(name)

    def update(self, name: str, webhook_url: str | None = None, email: str | None = None,
               text: str | None = None) -> Alert:
        """Change where an alert delivers, or its text (its vectors are then recomputed)."""
        alert = self.get(name)
        with self.transaction() as db:
            if webhook_url is not None:
                secret = alert.webhook_secret or secrets.token_urlsafe(32)
                db.execute("UPDATE alerts SET webhook_url = ?, webhook_secret = ? WHERE id = ?",
                           (webhook_url or None, secret if webhook_url else None, alert.id))
            if email is not None:
                db.execute("UPDATE alerts SET email = ? WHERE id = ?", (email or None, alert.id))
            if text is not None:
                db.execute("UPDATE alerts SET text = ?, lang = NULL WHERE id = ?",
                           (text, alert.id))
                db.execute("DELETE FROM vectors WHERE alert_id = ?", (alert.id,))
        return self.get(name)

    def remove(self, name: str) -> None:
        """Remove an alert, its hits, and the kept paragraphs no other alert's story holds."""
        alert = self.get(name)
        with self.transaction() as db:
            db.execute("DELETE FROM alerts WHERE id = ?", (alert.id,))
            db.execute("DELETE FROM paragraphs WHERE story NOT IN (SELECT p.story FROM hits h"
                       " JOIN paragraphs p ON p.id = h.paragraph)")

    def alerts(self) -> list[Alert]:
        rows = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts ORDER BY id").fetchall()
        return [_alert(row) for row in rows]

    def since(self) -> dict[int, int]:
        """Each alert's first paragraph id to watch."""
        return dict(self._db.execute("SELECT id, since_pid FROM alerts").fetchall())

    def get(self, name: str) -> Alert:
        row = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE name = ?",
                               (name,)).fetchone()
        if row is None:
            raise AlertNotFound(f"no alert named {name!r}: `search alert list` shows them")
        return _alert(row)

    def by_feed(self, token: str) -> Alert:
        row = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE feed_token = ?",
                               (token,)).fetchone()
        if row is None:
            raise AlertNotFound("no such feed")
        return _alert(row)

    def save_languages(self, langs: dict[int, str]) -> None:
        """The detected language of queries (detected once, at their first evaluation)."""
        with self.transaction() as db:
            db.executemany("UPDATE alerts SET lang = ? WHERE id = ?",
                           [(lang, alert_id) for alert_id, lang in langs.items()])

    # -- query vectors -------------------------------------------------------------------
    def vectors(self, model: str) -> dict[int, np.ndarray]:
        rows = self._db.execute("SELECT alert_id, vector FROM vectors WHERE model = ?",
                                (model,)).fetchall()
        return {alert_id: np.frombuffer(blob, dtype=np.float32) for alert_id, blob in rows}

    def save_vectors(self, model: str, vectors: dict[int, np.ndarray]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                           [(alert_id, model, np.asarray(v, dtype=np.float32).tobytes())
                            for alert_id, v in vectors.items()])

    # -- words' terms, by analyzer ----------------------------------------------------------
    def word_terms(self, marks: Mapping[str, str]) -> WordTerms:
        """The words' terms kept for each analyzer code of `marks` whose analysis mark is the
        one they were kept under (search.alerts.terms.analysis_mark)."""
        known: dict[str, dict[str, AnalysedWord]] = {}
        for code, mark in marks.items():
            kept = self._db.execute("SELECT value FROM state WHERE key = ?",
                                    (f"analysis:{code}",)).fetchone()
            if kept is not None and kept[0] == mark:
                known[code] = {word: _terms(terms) for word, terms in self._db.execute(
                    "SELECT word, terms FROM word_terms WHERE code = ?", (code,))}
        return WordTerms(known)

    def save_word_terms(self, words: WordTerms, marks: Mapping[str, str]) -> None:
        """Keep the words analysed since `word_terms` read them, each under its code's mark
        (what was kept under another mark is dropped)."""
        if not words.added:
            return
        with self.transaction() as db:
            for code, added in words.added.items():
                key = f"analysis:{code}"
                kept = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
                if kept is None or kept[0] != marks[code]:
                    db.execute("DELETE FROM word_terms WHERE code = ?", (code,))
                    db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, marks[code]))
                db.executemany("INSERT OR REPLACE INTO word_terms VALUES (?, ?, ?)",
                               [(code, word, "\t".join(("L" if latin else "T") + term
                                                        for term, latin in terms))
                                for word, terms in added.items()])

    # -- evaluation state ------------------------------------------------------------------
    def watermark(self) -> int | None:
        """Paragraphs below this id have been evaluated; None before the first alert."""
        row = self._db.execute("SELECT value FROM state WHERE key = 'watermark'").fetchone()
        return int(row[0]) if row else None

    def restart(self, next_pid: int) -> None:
        """After a rebuild (paragraph ids numbered anew): watch from `next_pid` on, and
        forget which old ids belonged to which hit."""
        with self.transaction() as db:
            db.execute("UPDATE paragraphs SET pid = NULL")
            db.execute("UPDATE alerts SET since_pid = ?", (next_pid,))
            db.execute("INSERT OR REPLACE INTO state VALUES ('watermark', ?)", (str(next_pid),))

    # -- hits ------------------------------------------------------------------------------
    def hits(self, alert_id: int, limit: int = 50) -> list[AlertHit]:
        """An alert's latest hits, newest first, each with its translations."""
        rows = self._db.execute(
            f"SELECT {_HIT_COLUMNS} FROM hits h JOIN paragraphs p ON p.id = h.paragraph"
            " WHERE h.alert_id = ? ORDER BY h.id DESC LIMIT ?",
            (alert_id, limit)).fetchall()
        return self._with_translations(rows)

    def hits_by_id(self, hit_ids: Sequence[int]) -> list[AlertHit]:
        marks = ",".join("?" * len(hit_ids))
        rows = self._db.execute(f"SELECT {_HIT_COLUMNS} FROM hits h JOIN paragraphs p"
                                f" ON p.id = h.paragraph WHERE h.id IN ({marks}) ORDER BY h.id",
                                list(hit_ids)).fetchall()
        return self._with_translations(rows)

    def _with_translations(self, rows: list[tuple]) -> list[AlertHit]:
        """Each hit with its translations: the other paragraphs of its story kept in its
        generation or later, with why where they matched the alert themselves."""
        if not rows:
            return []
        hits = [_hit(row) for row in rows]
        story = {row[0]: (row[-3], row[-2], row[-1]) for row in rows}  # paragraph, story, batch
        stories = sorted({s for _, s, _ in story.values()})
        members: dict[int, list[tuple]] = {}
        for member in schema.select_in(
                self._db, "SELECT story, batch, id, paragraph_id, lang, title, generation, found"
                " FROM paragraphs WHERE story IN ({marks}) ORDER BY id", stories):
            members.setdefault(member[0], []).append(member)
        marks = ",".join("?" * len(hits))
        why = {(hit_id, row): why_from_dict(json.loads(text)) for hit_id, row, text in
               self._db.execute("SELECT hit_id, paragraph, why FROM translations"
                                f" WHERE hit_id IN ({marks})", [h.id for h in hits])}
        return [_with(hit, tuple(
            Translation(paragraph_id, lang, title, generation, why.get((hit.id, row), Why()),
                        found)
            for _, batch, row, paragraph_id, lang, title, generation, found
            in members[story[hit.id][1]]
            if batch >= story[hit.id][2] and row != story[hit.id][0])) for hit in hits]

    # -- the outbox ----------------------------------------------------------------------
    def pending(self, now: float | None = None) -> list[Delivery]:
        """Deliveries due: pending, their next attempt time reached."""
        now = time.time() if now is None else now
        rows = self._db.execute(
            "SELECT o.id, o.alert_id, o.channel, o.generation, o.hit_ids, o.attempts FROM"
            " outbox o WHERE o.state = ? AND o.next_attempt <= ? ORDER BY o.id",
            (PENDING, now)).fetchall()
        alerts = {a.id: a for a in self.alerts()}
        return [Delivery(row_id, alerts[alert_id], Channel(channel), generation,
                         tuple(self.hits_by_id(json.loads(hit_ids))), attempts)
                for row_id, alert_id, channel, generation, hit_ids, attempts in rows
                if alert_id in alerts]

    def claim(self, delivery_id: int, seconds: float) -> bool:
        """Take a due delivery for `seconds`, so that no other process (serve workers and
        `search index` all deliver) sends it meanwhile; if this one dies sending it, it is due
        again after them. False when another process has it, or has sent it."""
        now = time.time()
        with self.transaction() as db:
            taken = db.execute("UPDATE outbox SET next_attempt = ? WHERE id = ? AND state = ?"
                               " AND next_attempt <= ?",
                               (now + seconds, delivery_id, PENDING, now)).rowcount
        return taken == 1

    def delivered(self, delivery_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE outbox SET state = ?, attempts = attempts + 1, error = NULL"
                       " WHERE id = ?", (DONE, delivery_id))

    def attempt_failed(self, delivery_id: int, reason: str, retry_at: float | None) -> None:
        """Record a failed attempt: retried from `retry_at`, or failed for good when None."""
        with self.transaction() as db:
            db.execute("UPDATE outbox SET state = ?, attempts = attempts + 1, error = ?,"
                       " next_attempt = ? WHERE id = ?",
                       (PENDING if retry_at is not None else FAILED, reason, retry_at or 0,
                        delivery_id))

    def next_attempt(self) -> float | None:
        """When the earliest pending delivery is due; None when none is pending."""
        row = self._db.execute("SELECT min(next_attempt) FROM outbox WHERE state = ?",
                               (PENDING,)).fetchone()
        return None if row[0] is None else float(row[0])

    def outbox(self, alert_id: int) -> list[tuple[str, str, str, int, str | None]]:
        """(channel, generation, state, attempts, error) of an alert's deliveries."""
        return self._db.execute(
            "SELECT channel, generation, state, attempts, error FROM outbox WHERE alert_id = ?"
            " ORDER BY id", (alert_id,)).fetchall()


_ALERT_COLUMNS = ("id, name, kind, text, mode, filters, feed_token, created, webhook_url,"
                  " webhook_secret, email, lang")
_HIT_COLUMNS = ("h.id, h.alert_id, p.generation, p.paragraph_id, p.article_id, p.title, p.lang,"
                " p.pid, h.score, p.text, h.why, p.url, p.found, p.id, p.story, p.batch")


def _terms(kept: str) -> AnalysedWord:
    return tuple((term[1:], term[0] == "L") for term in kept.split("\t")) if kept else ()


def _alert(row: tuple) -> Alert:
    (id_, name, kind, text, mode, filters, token, created, webhook, secret, email, lang) = row
    data = json.loads(filters)
    kept = Filters(tuple(data["languages"]), tuple(data["article_ids"]),
                   tuple(data["sources"]), data["date_from"], data["date_to"])
    return Alert(id_, name, AlertKind(kind), text, Mode(mode), kept, token, created, webhook,
                 secret, email, lang)


def _hit(row: tuple) -> AlertHit:
    (id_, alert_id, generation, paragraph_id, article_id, title, lang, pid, score, text, why,
     url, found) = row[:13]
    return AlertHit(id_, alert_id, generation, paragraph_id, article_id, title, lang,
                    pid, score, text, why_from_dict(json.loads(why)), url, found)


def _with(hit: AlertHit, translations: tuple[Translation, ...]) -> AlertHit:
    return replace(hit, translations=translations)
