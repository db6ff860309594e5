"""The alert store's tables, and the move of a store written by an earlier version.

A paragraph an alert reported is kept once (`paragraphs`, with its text), however many alerts
report it, with its *story*: the row of the first member of its translation group that was
kept, so that a story's versions in every language share it. A hit names its paragraph's
row; its translations are the other rows of its story kept in its generation or later
(`batch`: the first row of the generation that kept it); `translations` holds the why of
those that matched the alert themselves. A paragraph's `pid` is the index's id while that
still means it (a rebuild numbers paragraphs anew and clears it): through it a new paragraph
finds its story. Version 1 kept the text in every hit, a row per translation and a `members`
row per reported paragraph and alert: at 10,000 alerts, most of an evaluation's time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, text TEXT NOT NULL,
    mode TEXT NOT NULL, filters TEXT NOT NULL, feed_token TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, since_pid INTEGER NOT NULL, webhook_url TEXT, webhook_secret TEXT,
    email TEXT, lang TEXT);
CREATE TABLE IF NOT EXISTS vectors (
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE, model TEXT NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (alert_id, model));
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS paragraphs (
    id INTEGER PRIMARY KEY, story INTEGER NOT NULL, batch INTEGER NOT NULL,
    generation TEXT NOT NULL, pid INTEGER, paragraph_id TEXT NOT NULL, article_id TEXT NOT NULL,
    title TEXT NOT NULL, lang TEXT NOT NULL, text TEXT NOT NULL, url TEXT, found TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS paragraphs_by_pid ON paragraphs (pid);
CREATE INDEX IF NOT EXISTS paragraphs_by_story ON paragraphs (story);
CREATE TABLE IF NOT EXISTS hits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    paragraph INTEGER NOT NULL REFERENCES paragraphs(id), score REAL NOT NULL,
    why TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS hits_by_alert ON hits (alert_id, id);
CREATE INDEX IF NOT EXISTS hits_by_paragraph ON hits (paragraph);
CREATE TABLE IF NOT EXISTS translations (
    hit_id INTEGER NOT NULL REFERENCES hits(id) ON DELETE CASCADE,
    paragraph INTEGER NOT NULL REFERENCES paragraphs(id), why TEXT NOT NULL,
    PRIMARY KEY (hit_id, paragraph)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS word_terms (
    code TEXT NOT NULL, word TEXT NOT NULL, terms TEXT NOT NULL, PRIMARY KEY (code, word))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    channel TEXT NOT NULL, generation TEXT NOT NULL, hit_ids TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0, error TEXT, UNIQUE (alert_id, channel, generation));
"""


def create(db: sqlite3.Connection) -> None:
    """The tables, a store of an earlier version moved to them first (in one transaction)."""
    if db.execute("PRAGMA user_version").fetchone()[0] < VERSION and _columns(db, "hits"):
        db.execute("BEGIN IMMEDIATE")
        try:
            if "text" in _columns(db, "hits"):  # another process may have moved it meanwhile
                _from_version_1(db)
            db.execute(f"PRAGMA user_version = {VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    _create_tables(db)
    db.execute(f"PRAGMA user_version = {VERSION}")


def _create_tables(db: sqlite3.Connection) -> None:
    """SCHEMA, statement by statement: executescript would commit an open transaction."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def readable(db: sqlite3.Connection) -> sqlite3.Connection:
    """A read-only store as this version reads it: an earlier version's is moved in memory."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= VERSION or \
            "text" not in _columns(db, "hits"):
        return db
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.backup(memory)
    db.close()
    create(memory)
    return memory


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def _from_version_1(db: sqlite3.Connection) -> None:
    """Version 1's hits (text in each), translations (no text) and members (which pids
    belonged to which hit): each hit a story of its own, its translations its members."""
    for table in ("hits", "translations", "members"):
        db.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
    for index in ("hits_by_alert", "members_by_pid"):
        db.execute(f"DROP INDEX IF EXISTS {index}")
    _create_tables(db)
    known = set(db.execute("SELECT alert_id, pid FROM old_members").fetchall())
    story = {}
    for hit_id, alert_id, generation, pid, paragraph_id, article_id, title, lang, score, text, \
            why, url, found in db.execute(
                "SELECT id, alert_id, generation, pid, paragraph_id, article_id, title, lang,"
                " score, text, why, url, found FROM old_hits ORDER BY id").fetchall():
        row = _paragraph(db, None, generation, pid if (alert_id, pid) in known else None,
                         paragraph_id, article_id, title, lang, text, url, found)
        story[hit_id] = row
        db.execute("INSERT INTO hits (id, alert_id, paragraph, score, why) VALUES (?, ?, ?, ?, ?)",
                   (hit_id, alert_id, row, score, why))
    for hit_id, alert_id, pid, paragraph_id, lang, title, generation, why, found in db.execute(
            "SELECT t.hit_id, h.alert_id, t.pid, t.paragraph_id, t.lang, t.title, t.generation,"
            " t.why, t.found FROM old_translations t JOIN old_hits h ON h.id = t.hit_id"
            " ORDER BY t.rowid").fetchall():
        row = _paragraph(db, story[hit_id], generation,
                         pid if (alert_id, pid) in known else None, paragraph_id, "", title,
                         lang, "", None, found)
        if why != _NO_WHY:
            db.execute("INSERT INTO translations VALUES (?, ?, ?)", (hit_id, row, why))
    for table in ("members", "translations", "hits"):
        db.execute(f"DROP TABLE old_{table}")


_NO_WHY = '{"words": [], "coverage": null, "cosine": null}'


def select_in(db: sqlite3.Connection, query: str, values: Sequence[object]
              ) -> Iterator[tuple]:
    """The rows of `query` for `values`, which it takes as `IN ({marks})`, asked 500 at a time
    (SQLite bounds a statement's parameters)."""
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        yield from db.execute(query.format(marks=",".join("?" * len(chunk))), chunk)


def _paragraph(db: sqlite3.Connection, story: int | None, *values: object) -> int:
    """A paragraph row in `story` (None: a story of its own), kept with its story's hit."""
    row = db.execute("SELECT coalesce(max(id), 0) + 1 FROM paragraphs").fetchone()[0]
    db.execute("INSERT INTO paragraphs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (row, story or row, story or row, *values))
    return row
