"""The web front end: a search page, an article page and a JSON API over one Engine.

The app factory opens the index (and loads the model) once, before any request is served;
views reach them through `services.get_services()`. The layer is thin: parse the request,
call the engine, render or serialize, translate errors at the edge (see errors.py).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from search.errors import BadSetting

from .services import start_background, start_services

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
    _check_token(app.config["REINDEX_TOKEN"])
    app.json = _JSONProvider(app)
    # "/api/articles//x" is the article "/x", not a redirect built from the Host header.
    app.url_map.merge_slashes = False

    app.extensions["search"] = start_services(app)
    if app.config["BACKGROUND"]:
        start_background(app)

    from . import alerts, api, errors, investigate, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(alerts.bp)
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


def _check_token(token: str | None) -> None:
    """A reindex token that no Authorization header can carry is refused at start."""
    if token is None:
        return
    if not token.strip() or token != token.strip() or not token.isascii() \
            or not token.isprintable():
        raise BadSetting("SEARCH_REINDEX_TOKEN can never match: it must be printable ASCII "
                         "without spaces around it (unset it to allow only this machine)")
