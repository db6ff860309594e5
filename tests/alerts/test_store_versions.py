"""A store written by the first version (text in every hit, a members table) is moved to the
current tables on first use, with nothing lost; read-only, it is read as moved, untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from search.alerts import AlertStore, MatchForm, Why
from search.alerts.evaluate import NewParagraph
from search.alerts.records import AlertMatches, Match
from search.alerts.schema import VERSION
from search.alerts.stories import record
from search.records import ArticleRecord, ParagraphRecord

VERSION_1 = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, text TEXT NOT NULL,
    mode TEXT NOT NULL, filters TEXT NOT NULL, feed_token TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL, since_pid INTEGER NOT NULL, webhook_url TEXT, webhook_secret TEXT,
    email TEXT, lang TEXT);
CREATE TABLE IF NOT EXISTS vectors (
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE, model TEXT NOT NULL,
    vector BLOB NOT NULL, PRIMARY KEY (alert_id, model));
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hits (
    id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    generation TEXT NOT NULL, pid INTEGER NOT NULL, paragraph_id TEXT NOT NULL,
    article_id TEXT NOT NULL, title TEXT NOT NULL, lang TEXT NOT NULL, score REAL NOT NULL,
    text TEXT NOT NULL, why TEXT NOT NULL, url TEXT, found TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS hits_by_alert ON hits (alert_id, id);
CREATE TABLE IF NOT EXISTS members (
    alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE, pid INTEGER NOT NULL,
    hit_id INTEGER NOT NULL REFERENCES hits(id) ON DELETE CASCADE,
    PRIMARY KEY (alert_id, pid));
CREATE INDEX IF NOT EXISTS members_by_pid ON members (pid);
CREATE TABLE IF NOT EXISTS translations (
    hit_id INTEGER NOT NULL REFERENCES hits(id) ON DELETE CASCADE, pid INTEGER NOT NULL,
    paragraph_id TEXT NOT NULL, lang TEXT NOT NULL, title TEXT NOT NULL,
    generation TEXT NOT NULL, why TEXT NOT NULL, found TEXT NOT NULL,
    PRIMARY KEY (hit_id, pid));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    channel TEXT NOT NULL, generation TEXT NOT NULL, hit_ids TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0, error TEXT, UNIQUE (alert_id, channel, generation));
"""
FILTERS = ('{"languages": [], "article_ids": [], "sources": [], "date_from": null,'
           ' "date_to": null}')
WORDS = ('{"words": [{"word": "talks", "form": "typed", "found": ["talks"]}], "coverage": 1.0,'
         ' "cosine": null}')


def version_1_store(folder: Path) -> Path:
    """Two alerts: "talks" has a hit (pid 7) joined by a translation (pid 9) in a later
    generation; "other" has a hit from before a rebuild (no members row)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "alerts.sqlite")
    db.executescript(VERSION_1)
    db.executemany("INSERT INTO alerts (id, name, kind, text, mode, filters, feed_token,"
                   " created, since_pid) VALUES (?, ?, 'query', ?, 'hybrid', ?, ?, '', 1)",
                   [(1, "talks", "talks", FILTERS, "t1"), (2, "other", "ferry", FILTERS, "t2")])
    db.executemany("INSERT INTO hits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (5, 1, "g000002", 7, "a.md:0", "a.md", "Talks", "en", 0.9, "The talks began.", WORDS,
         "http://a", "2026-01-02"),
        (6, 2, "g000001", 3, "b.md:1", "b.md", "Ferry", "en", 0.6, "A ferry.",
         '{"words": [], "coverage": null, "cosine": 0.8}', None, "2026-01-01")])
    db.execute("INSERT INTO translations VALUES (5, 9, 'a.de.md:0', 'de', 'Gespräche',"
               " 'g000003', '{\"words\": [], \"coverage\": null, \"cosine\": null}',"
               " '2026-01-03')")
    db.executemany("INSERT INTO members VALUES (?, ?, ?)", [(1, 7, 5), (1, 9, 5)])
    db.execute("INSERT INTO state VALUES ('watermark', '10')")
    db.commit()
    db.close()
    return folder


def _paragraph(pid: int, lang: str) -> NewParagraph:
    article = f"a.{lang}.md"
    return NewParagraph(ParagraphRecord(pid, article, 0, 0, 10, f"text {lang}", lang),
                        ArticleRecord(article, article, f"title {lang}", None, None, None,
                                      None, lang, (pid,)))


def _check(store: AlertStore) -> None:
    [talks] = store.hits(1)
    assert (talks.id, talks.paragraph_id, talks.text, talks.url, talks.pid) == (
        5, "a.md:0", "The talks began.", "http://a", 7)
    assert [(w.query_word, w.form) for w in talks.why.words] == [("talks", MatchForm.TYPED)]
    [german] = talks.translations
    assert (german.paragraph_id, german.lang, german.title, german.generation) == (
        "a.de.md:0", "de", "Gespräche", "g000003")
    assert german.why.cosine is None and not german.why.words
    [ferry] = store.hits(2)
    assert (ferry.id, ferry.why.cosine, ferry.pid) == (6, 0.8, None)  # forgotten by a rebuild
    assert store.watermark() == 10


def test_a_first_version_store_is_moved_with_every_hit_and_translation(tmp_path):
    folder = version_1_store(tmp_path / "index")
    with AlertStore(folder) as store:
        _check(store)
        talks, other = store.alerts()
        # A Spanish version of pid 7 joins the moved story; a new hit takes a new id.
        record(store, "g000004", 10, 12, [talks, other],
               AlertMatches.of([Match(other.id, 10, 0.6, Why())]),
               {10: _paragraph(10, "fr"), 11: _paragraph(11, "es")}, {11: [7]})
        assert [t.lang for t in store.hits(talks.id)[0].translations] == ["de", "es"]
        assert [h.id for h in store.hits(other.id)] == [7, 6]
    db = sqlite3.connect(folder / "alerts.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'old_%'"
                      ).fetchone()[0] == 0


def test_a_first_version_store_of_a_read_only_index_is_read_as_moved(tmp_path):
    folder = version_1_store(tmp_path / "index")
    before = (folder / "alerts.sqlite").read_bytes()
    with AlertStore(folder, writable=False) as store:
        _check(store)
    assert (folder / "alerts.sqlite").read_bytes() == before
