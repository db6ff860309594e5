"""Alerts: saved searches evaluated on every new generation, in every language.

`store.py` keeps them beside the index (INDEX/alerts.sqlite); `watch.after_publish` is the
hook a writer calls after publishing: `evaluate.py` matches every alert against the new
paragraphs in one batch (`terms.py` for the words), `stories.py` records the hits, one per
translation group, and `deliver/` sends them (webhook, email; the Atom feed is read from the
store). This module is the Python API over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from search.alerts.deliver import DeliveryPolicy
from search.alerts.evaluate import NewParagraph, evaluate, searches_meaning
from search.alerts.records import Alert, AlertHit, AlertKind, AlertMatches, Channel, Why
from search.alerts.store import AlertStore
from search.alerts.watch import AlertRun, after_publish, encode_queries
from search.backends import open_backend
from search.config import Settings
from search.encoders.base import Encoder
from search.encoders.calibration import semantic_floors
from search.errors import InvalidAlert
from search.ranking.explain import MatchForm, TermMatch
from search.ranking.query import Mode
from search.records import Filters

__all__ = [
    "Alert", "AlertHit", "AlertKind", "AlertRun", "AlertStore", "Channel", "DeliveryPolicy",
    "MatchForm", "TermMatch", "Why", "add_alert", "after_publish", "alert_hits",
    "list_alerts", "remove_alert", "try_alert",
]
MAX_TEXT = 20_000
MAX_NAME = 100


def add_alert(index_dir: Path | str, name: str, text: str, kind: AlertKind = AlertKind.QUERY,
              mode: Mode = Mode.HYBRID, filters: Filters | None = None,
              webhook_url: str | None = None, email: str | None = None,
              settings: Settings | None = None) -> Alert:
    """Save an alert with the index in `index_dir`; it watches what is added from now on.
    Raises InvalidAlert for a bad definition, IndexUnwritable on a read-only index."""
    _check(name, text, webhook_url, email)
    backend = open_backend(Path(index_dir), settings or Settings())
    live = backend.current()
    since = backend.catalog(live).next_pid if live is not None else 1
    with AlertStore(index_dir) as store:
        return store.add(name.strip(), kind, text.strip(), mode, filters or Filters(), since,
                         webhook_url or None, email or None)


def _check(name: str, text: str, webhook_url: str | None, email: str | None) -> None:
    if not name.strip() or len(name) > MAX_NAME:
        raise InvalidAlert(f"an alert needs a name of 1 to {MAX_NAME} characters")
    if not text.strip() or len(text) > MAX_TEXT:
        raise InvalidAlert(f"an alert needs a query or watchlist of 1 to {MAX_TEXT} characters")
    if webhook_url and not webhook_url.startswith(("http://", "https://")):
        raise InvalidAlert(f"a webhook is an http(s) URL, not {webhook_url!r}")
    if email and ("@" not in email or any(c in email for c in " \r\n,;<>")):
        raise InvalidAlert(f"{email!r} is not an email address")


def list_alerts(index_dir: Path | str) -> list[Alert]:
    """The alerts of an index (none when it has no store); works on a read-only index."""
    if not AlertStore.exists(index_dir):
        return []
    with AlertStore(index_dir, writable=False) as store:
        return store.alerts()


def alert_hits(index_dir: Path | str, name: str, limit: int = 50) -> tuple[Alert, list[AlertHit]]:
    """An alert and its latest hits, newest first."""
    with AlertStore(index_dir, writable=False) as store:
        alert = store.get(name)
        return alert, store.hits(alert.id, limit)


def remove_alert(index_dir: Path | str, name: str) -> None:
    with AlertStore(index_dir) as store:
        store.remove(name)


def try_alert(index_dir: Path | str, name: str, encoder: Callable[[], Encoder],
               settings: Settings | None = None, last: int = 5_000) -> AlertMatches:
    """What the alert would fire on among the live generation's newest `last` paragraphs,
    without recording or delivering anything (the alert's since-id is ignored)."""
    settings = settings or Settings()
    with AlertStore(index_dir, writable=False) as store:
        alert = store.get(name)
    backend = open_backend(Path(index_dir), settings)
    live = backend.current()
    if live is None:
        return AlertMatches()
    reader = backend.open(live)
    try:
        pids = sorted(p for e in reader.catalog.files.values() for p in e.pids)[-last:]
        records = reader.paragraphs(pids)
        articles = {a.id: a for a in reader.articles(sorted({r.article_id for r in records}))
                    if a is not None}
        paragraphs = [NewParagraph(r, articles[r.article_id]) for r in records]
        vectors = np.stack([reader.vector(p) for p in pids]) if pids else np.zeros((0, 1))
        query = {alert.id: encode_queries(encoder(), [alert.text])[0]} \
            if searches_meaning(alert) else {}
        return evaluate([alert], {}, query, paragraphs, vectors, settings,
                        semantic_floors(reader.catalog.model, settings))
    finally:
        reader.close()


def paragraph_ids(index_dir: Path | str, pids: Sequence[int],
                  settings: Settings | None = None) -> list[str]:
    """The public ids of paragraphs of the live generation (for showing a test's matches)."""
    backend = open_backend(Path(index_dir), settings or Settings())
    live = backend.current()
    if live is None:
        return []
    reader = backend.open(live)
    try:
        return [r.paragraph_id for r in reader.paragraphs(pids)]
    finally:
        reader.close()
