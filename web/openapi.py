"""The OpenAPI 3 description of the JSON API, served at /api/openapi.json: its paths and
parameters, over the response schemas of web/openapi_schemas.py.

tests/web_layer/test_openapi.py checks the server against it with schemathesis: every documented
status, every response shape (objects are closed, so a new field must be documented here).
"""

from __future__ import annotations

from typing import Any

from search.config import Settings
from search.ranking.fusion import FusionMethod
from search.ranking.ordering import Collapse, Sort
from search.ranking.query import LANG_CODE, Mode, choices

from . import openapi_alerts
from .openapi_schemas import SCHEMAS, error_body, json_body, ref


def _query_parameter(name: str, schema: dict[str, Any], description: str,
                     required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _search_parameters(settings: Settings) -> list[dict[str, Any]]:
    code = {"type": "string", "pattern": LANG_CODE}
    return [
        _query_parameter(
            "q", {"type": "string", "minLength": 1, "maxLength": settings.max_query_chars,
                  "pattern": r"\S"},
            "The words to search for (plain text, no query syntax).", required=True),
        _query_parameter("mode", {"type": "string", "enum": choices(Mode),
                                  "default": Mode.HYBRID.value}, "Which index ranks the results."),
        {**_query_parameter("lang", {"type": "array", "items": code},
                            "Only paragraphs in these languages (repeatable); a language "
                            "the index lacks gives 400 (see /api/stats)."),
         "style": "form", "explode": True},
        _query_parameter("query_lang", code,
                         "The query's language, when detection gets it wrong."),
        _query_parameter("page", {"type": "integer", "minimum": 1, "maximum": settings.max_page,
                                  "default": 1}, "Page of results, from 1."),
        _query_parameter("size", {"type": "integer", "minimum": 1,
                                  "maximum": settings.max_page_size,
                                  "default": settings.page_size}, "Results per page."),
        _query_parameter("fusion", {"type": "string", "enum": choices(FusionMethod)},
                         "How hybrid mode fuses the two rankings (default: the index's)."),
        _query_parameter("alpha", {"type": "number", "minimum": 0, "maximum": 1},
                         "Semantic weight in hybrid fusion."),
        _query_parameter("date_from", {"type": "string", "format": "date"},
                         "Only articles dated on or after this day."),
        _query_parameter("date_to", {"type": "string", "format": "date"},
                         "Only articles dated on or before this day."),
        _query_parameter("one_per_article", {"type": "boolean", "default": False},
                         "Only the best paragraph of each article."),
        {**_query_parameter("source", {"type": "array", "items": {"type": "string"}},
                            "Only articles from these sources (repeatable)."),
         "style": "form", "explode": True},
        _query_parameter("sort", {"type": "string", "enum": choices(Sort),
                                  "default": Sort.RELEVANCE.value},
                         "relevance, or date: newest article first, undated last, ties by "
                         "relevance. Either way only matches are listed."),
        _query_parameter("recency", {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                     "maximum": settings.max_recency_days},
                         "A recency boost: each match's score is multiplied by "
                         "0.5 ** (age in days / recency), so recency=30 halves the score "
                         "of a month-old article; undated articles count as one half-life "
                         "old. Example: ?q=talks&recency=30"),
        _query_parameter("collapse", {"type": "string", "enum": choices(Collapse),
                                      "default": Collapse.NONE.value},
                         "translations: each translation group once, at its best-ranked "
                         "member, the others listed in its translations (total then counts "
                         "groups). The search page collapses by default; the API does not, "
                         "so that programs see every paragraph unless they ask."),
    ]


def _paragraph_id() -> dict[str, Any]:
    return {"name": "paragraph_id", "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1},
            "description": "article id:position, as in search results"}


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.0 document, with the limits of the running server filled in."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "polyglot-search",
            "version": "1",
            "description": "Multilingual hybrid (keyword + semantic) search over news "
                           "articles. Every error is {\"error\": \"...\"}. A server "
                           "with several worker processes (search serve --workers) names "
                           "the one that answered in an X-Search-Worker header (its pid).",
        },
        "paths": {
            "/api/search": {"get": {
                "operationId": "search",
                "summary": "Search paragraphs",
                "parameters": _search_parameters(settings),
                "responses": {
                    "200": json_body(ref("SearchPage"), "One page of results"),
                    "400": error_body("A parameter is missing or wrong; the message says which"),
                },
            }},
            "/api/articles/{article_id}": {"get": {
                "operationId": "article",
                "summary": "One article with its paragraphs in order",
                "parameters": [{"name": "article_id", "in": "path", "required": True,
                                "schema": {"type": "string", "minLength": 1},
                                "description": "The article id: its path under seeds/"}],
                "responses": {
                    "200": json_body(ref("Article"), "The article"),
                    "404": error_body("No such article"),
                },
            }},
            "/api/paragraphs/{paragraph_id}": {"get": {
                "operationId": "paragraph",
                "summary": "One paragraph with its translations",
                "parameters": [_paragraph_id()],
                "responses": {
                    "200": json_body(ref("ParagraphWithGroup"), "The paragraph"),
                    "404": error_body("No such paragraph"),
                },
            }},
            "/api/paragraphs/{paragraph_id}/similar": {"get": {
                "operationId": "similarParagraphs",
                "summary": "The paragraphs of other articles closest in meaning, in any "
                           "language; members of its translation group are marked",
                "parameters": [
                    _paragraph_id(),
                    _query_parameter("size", {"type": "integer", "minimum": 1,
                                              "maximum": settings.max_page_size,
                                              "default": settings.page_size},
                                     "How many paragraphs."),
                ],
                "responses": {
                    "200": json_body(ref("SimilarParagraphs"), "Best first"),
                    "400": error_body("size is out of range"),
                    "404": error_body("No such paragraph"),
                },
            }},
            "/api/stats": {"get": {
                "operationId": "stats",
                "summary": "What the index holds",
                "responses": {"200": json_body(ref("Stats"), "Index statistics")},
            }},
            "/api/health": {"get": {
                "operationId": "health",
                "summary": "Liveness, with the generation served and its counts",
                "responses": {"200": json_body(ref("Health"), "The server is answering")},
            }},
            "/api/reindex": {"post": {
                "operationId": "reindex",
                "summary": "Start an update of the index from seeds/",
                "description": "Needs 'Authorization: Bearer <token>' when the server has "
                               "SEARCH_REINDEX_TOKEN; without one, only local callers may. "
                               "One job runs at a time, across all of the server's worker "
                               "processes.",
                "security": [{}, {"reindexToken": []}],
                "responses": {
                    "202": json_body(ref("Job"), "The job was started; poll its status_url"),
                    "401": error_body("A token is configured and none was sent"),
                    "403": error_body("Wrong token, or a remote caller and no token configured"),
                    "409": error_body("A reindex job is already running (started through any "
                                  "worker); the error names it and its status URL"),
                    "413": error_body("The request body is too large"),
                },
            }},
            "/api/reindex/{job_id}": {"get": {
                "operationId": "reindexStatus",
                "summary": "A reindex job's status, and its summary or error once finished",
                "parameters": [{"name": "job_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": json_body(ref("Job"), "The job, whichever worker runs it"),
                    "404": error_body("No such job (or no longer remembered)"),
                },
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            }},
            **openapi_alerts.PATHS,
        },
        "components": {
            "schemas": SCHEMAS | openapi_alerts.SCHEMAS,
            "securitySchemes": {"reindexToken": {"type": "http", "scheme": "bearer"}},
        },
    }
