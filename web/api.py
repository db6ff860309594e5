"""The JSON API under /api; its contract is openapi.py, served at /api/openapi.json."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from search.serialize import (
    article_to_dict,
    page_to_dict,
    paragraph_to_dict,
    similar_to_dict,
    stats_to_dict,
)

from .export import export_format, export_response, interval_facet
from .jobs import Job
from .openapi import openapi_document
from .openapi_investigate import extend
from .params import parse_query, parse_size
from .services import get_services

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def refuse_large_bodies() -> None:
    # Werkzeug only enforces MAX_CONTENT_LENGTH when a body is read; no endpoint reads one.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit is not None and (request.content_length or 0) > limit:
        abort(413, f"the request body is larger than {limit} bytes")


@bp.get("/search")
def search() -> Response:
    found = get_services()
    query = parse_query(request.args, found.settings)
    fmt = export_format(request.args)
    if fmt is not None:
        return export_response(found.engine, query, fmt)
    page = found.engine.search(query)
    body = page_to_dict(page)
    body["facets"] |= interval_facet(page, request.args)
    return jsonify(body)


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> Response:
    return jsonify(article_to_dict(get_services().engine.article(article_id)))


@bp.get("/paragraphs/<path:paragraph_id>")
def paragraph(paragraph_id: str) -> Response:
    return jsonify(paragraph_to_dict(get_services().engine.paragraph(paragraph_id)))


@bp.get("/paragraphs/<path:paragraph_id>/similar")
def similar(paragraph_id: str) -> Response:
    size = parse_size(request.args, get_services().settings)
    found = get_services().engine.similar(paragraph_id, size)
    return jsonify(similar_to_dict(paragraph_id, found))


@bp.get("/stats")
def stats() -> Response:
    return jsonify(stats_to_dict(get_services().engine.stats()))


@bp.get("/health")
def health() -> Response:
    info = get_services().engine.stats()
    return jsonify(
        status="ok", generation=info.generation, created=info.created, model=info.model,
        articles=info.articles, paragraphs=info.paragraphs, languages=len(info.languages),
    )


@bp.post("/reindex")
def reindex() -> tuple[Response, int, dict[str, str]]:
    """Start an update from seeds/ in the background; poll the returned status_url."""
    authorize_reindex()
    job = get_services().reindexer.submit(trigger="api")
    body = _job_dict(job)
    return jsonify(body), 202, {"Location": body["status_url"]}


@bp.get("/reindex/<job_id>")
def reindex_status(job_id: str) -> Response:
    job = get_services().reindexer.get(job_id)
    if job is None:
        abort(404, f"no reindex job {job_id!r} (only recent jobs are kept)")
    return jsonify(_job_dict(job))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(extend(openapi_document(get_services().settings)))


def _job_dict(job: Job) -> dict[str, Any]:
    return job.to_dict() | {"status_url": url_for("api.reindex_status", job_id=job.id)}


def authorize_reindex() -> None:
    """With a token configured, require it as a bearer token; without one, allow only
    callers on this machine."""
    token = current_app.config["REINDEX_TOKEN"]
    if not token:
        if not _is_loopback(request.remote_addr):
            abort(403, "reindexing is allowed only from this machine unless the server is "
                       "started with SEARCH_REINDEX_TOKEN set")
        return
    header = request.headers.get("Authorization")
    if not header:
        raise Unauthorized("send the reindex token as 'Authorization: Bearer <token>'",
                           www_authenticate=WWWAuthenticate("bearer"))
    scheme, _, given = header.partition(" ")
    matches = hmac.compare_digest(given.strip().encode(), token.encode())
    if scheme.lower() != "bearer" or not matches:
        abort(403, "the reindex token is wrong")


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback
