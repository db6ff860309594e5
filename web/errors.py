"""Errors translated at the edge: `{"error": "..."}` under /api, a friendly page elsewhere."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from search.errors import (
    AlertNotFound,
    ArticleNotFound,
    IndexBusy,
    IndexCorrupt,
    IndexIncompatible,
    IndexMissing,
    IndexUnwritable,
    InvalidAlert,
    InvalidQuery,
    ModelUnavailable,
    ParagraphNotFound,
    SearchError,
)

log = logging.getLogger(__name__)

STATUS = {
    InvalidQuery: 400,
    InvalidAlert: 400,
    AlertNotFound: 404,
    IndexUnwritable: 409,
    ArticleNotFound: 404,
    ParagraphNotFound: 404,
    IndexBusy: 409,
    IndexMissing: 503,
    IndexCorrupt: 503,
    IndexIncompatible: 503,
    ModelUnavailable: 503,
}

TITLES = {
    400: "That search cannot be run",
    404: "Not found",
    405: "Method not allowed",
    409: "Busy",
    413: "Too large",
    503: "The index is not available",
}


def wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


ErrorResponse = tuple[Response | str, int, Mapping[str, str]]


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> ErrorResponse:
    """The one error shape: JSON for the API, the error page for the browser."""
    response: Response | str
    if wants_json():
        response = jsonify(error=message)
    else:
        title = TITLES.get(status, "Something went wrong")
        response = render_template("error.html", status=status, title=title, message=message)
    return response, status, headers or {}


def status_of(exc: SearchError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def handle_search_error(exc: SearchError) -> ErrorResponse:
    status = status_of(exc)
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc)
    return error_response(status, str(exc))


def handle_http_error(exc: HTTPException) -> HTTPException | ErrorResponse:
    if exc.code is None or exc.code < 400:  # redirects raised as exceptions pass through
        return exc
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    message = exc.description or exc.name
    if exc.code == 404 and wants_json() and request.url_rule is None:
        # Quoted, so that control characters in the path cannot break the one-line message.
        path = urllib.parse.quote(request.path, safe="/")
        message = f"no such endpoint: {request.method} {path}; see /api/openapi.json"
    return error_response(exc.code, message, headers)


def handle_unexpected(exc: Exception) -> ErrorResponse:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(
        500, "an unexpected error happened on the server; it has been logged"
    )


def register(app: Flask) -> None:
    app.register_error_handler(SearchError, handle_search_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
