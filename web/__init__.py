"""The web front end: a search page, an article page and a JSON API over one Engine.

The app factory opens the index (and loads the model) once, before any request is served;
views reach them through `services()`. The layer is thin: parse the request, call the
engine, render or serialize, translate errors at the edge (see errors.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app
from flask.json.provider import DefaultJSONProvider

from search.config import Settings
from search.engine import Engine
from search.index.summary import IndexSummary
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.ranking.query import Query

from .jobs import GenerationFollower, Reindexer, SeedsWatcher
from .shared_jobs import SharedJobBoard

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with text left readable (not \\u-escaped) and fields in the order the
    serializers give them."""

    ensure_ascii = False
    sort_keys = False


@dataclass
class Services:
    """What the views use: the engine and the reindex jobs; and the background threads that
    follow new generations and, with WATCH, watch seeds/."""

    engine: Engine
    settings: Settings
    reindexer: Reindexer
    follower: GenerationFollower | None = None
    watcher: SeedsWatcher | None = None

    def close(self) -> None:
        """Stop the background threads, wait for a running reindex job, close the index."""
        for poller in (self.watcher, self.follower):
            if poller is not None:
                poller.stop()
        self.reindexer.wait()
        self.engine.close()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Make the app. `config` overrides the defaults below (tests pass their index here).

    Keys besides Flask's own: INDEX_DIR, SEEDS_DIR, SETTINGS (search.config.Settings),
    ENCODER_FACTORY (model name -> Encoder; None loads the index's model), LOAD_MODEL
    (load the model and run one query now, so that the first request is fast),
    FOLLOW_INTERVAL (seconds between checks for a generation published by another writer,
    such as `search index`; 0 turns them off), WATCH and WATCH_INTERVAL (re-index when seeds
    change), REINDEX_TOKEN (defaults to $SEARCH_REINDEX_TOKEN), JOBS_DIR (a folder where the
    worker processes of one server share their reindex jobs; None keeps them in memory),
    BACKGROUND (start the follower and the watcher threads now; False leaves that to
    `start_background`, for a process that forks first), WORKER_HEADER (name every response's
    worker process in an X-Search-Worker header).
    """
    app = Flask(__name__)
    app.config.from_mapping(
        INDEX_DIR="indexes",
        SEEDS_DIR="seeds",
        SETTINGS=None,
        ENCODER_FACTORY=None,
        LOAD_MODEL=True,
        FOLLOW_INTERVAL=1.0,
        WATCH=False,
        WATCH_INTERVAL=2.0,
        REINDEX_TOKEN=os.environ.get("SEARCH_REINDEX_TOKEN") or None,
        MAX_CONTENT_LENGTH=16 * 1024,
        JOBS_DIR=None,
        BACKGROUND=True,
        WORKER_HEADER=False,
    )
    if config:
        app.config.update(config)
    app.json = _JSONProvider(app)

    app.extensions["search"] = _start_services(app)
    if app.config["BACKGROUND"]:
        start_background(app)

    from . import api, errors, investigate, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(investigate.bp)
    errors.register(app)

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config["WORKER_HEADER"]:
            response.headers["X-Search-Worker"] = str(os.getpid())
        return response

    return app


def services() -> Services:
    return current_app.extensions["search"]


def _start_services(app: Flask) -> Services:
    settings = app.config["SETTINGS"] or Settings()
    engine = Engine(
        Path(app.config["INDEX_DIR"]), settings, encoder_factory=app.config["ENCODER_FACTORY"]
    ).open()
    jobs_dir = app.config["JOBS_DIR"]
    board = SharedJobBoard(Path(jobs_dir)) if jobs_dir else None
    found = Services(engine, settings, Reindexer(
        seeds_updater(engine, Path(app.config["SEEDS_DIR"]), settings), board))
    try:
        if app.config["LOAD_MODEL"]:
            engine.encoder()
            # One query loads the rest (language detection, keyword readers) before the
            # first visitor's.
            engine.search(Query("warm up", size=1))
    except BaseException:
        found.close()
        raise
    return found


def start_background(app: Flask) -> None:
    """Start the threads that follow new generations and, with WATCH, watch seeds/."""
    found: Services = app.extensions["search"]
    try:
        if float(app.config["FOLLOW_INTERVAL"]) > 0:
            found.follower = GenerationFollower(
                found.engine.refresh, interval=float(app.config["FOLLOW_INTERVAL"]))
            found.follower.start()
        if app.config["WATCH"]:
            found.watcher = SeedsWatcher(
                Path(app.config["SEEDS_DIR"]), found.reindexer,
                interval=float(app.config["WATCH_INTERVAL"]),
            )
            found.watcher.start()
    except BaseException:
        found.close()
        raise


def seeds_updater(engine: Engine, seeds_dir: Path, settings: Settings
                  ) -> Callable[[], IndexSummary]:
    """An update of the engine's index from seeds_dir that reuses the engine's loaded model
    and switches the engine to the new generation."""

    detector = LanguageDetector()  # loaded on the first update, then reused

    def update() -> IndexSummary:
        # The index keeps the model it was built with; updating it with another would fail.
        current = replace(settings, model=engine.stats().model)
        summary = update_index(seeds_dir, engine.index_dir, current, engine.encoder,
                               detector=detector)
        engine.refresh()
        return summary

    return update
