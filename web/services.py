"""The resources the views use, set up once per app and reached through `get_services()`
(as flaskr's db.py): the engine, the reindex jobs and the background threads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from flask import Flask, current_app

from search.config import Settings
from search.engine import Engine
from search.index.summary import IndexSummary
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.ranking.query import Query

from .jobs import GenerationFollower, Reindexer, SeedsWatcher
from .shared_jobs import SharedJobBoard


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


def get_services() -> Services:
    """The app's services (inside a request or app context)."""
    return current_app.extensions["search"]


def start_services(app: Flask) -> Services:
    """Open the engine (and, with LOAD_MODEL, load the model) and make the reindex jobs."""
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
                index_dir=Path(app.config["INDEX_DIR"]),
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
