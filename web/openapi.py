"""The OpenAPI 3 description of the JSON API, served at /api/openapi.json.

tests/test_openapi.py checks the server against it with schemathesis: every documented
status, every response shape (objects are closed, so a new field must be documented here).
"""

from __future__ import annotations

from typing import Any

from search.config import Settings
from search.ranking.explain import MatchForm
from search.ranking.fusion import FusionMethod
from search.ranking.query import LANG_CODE

FUSIONS = tuple(method.value for method in FusionMethod)
MATCH_FORMS = [form.value for form in MatchForm]



def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **extra}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "required": list(properties), "properties": properties}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


STRINGS = {"type": "array", "items": {"type": "string"}}

PARAGRAPH_FIELDS: dict[str, Any] = {
    "paragraph_id": {"type": "string"},
    "article_id": {"type": "string"},
    "title": {"type": "string"},
    "lang": {"type": "string"},
    "date": _nullable("string", format="date"),
    "source": _nullable("string"),
    "position": {"type": "integer", "minimum": 0},
    "text": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}}),
    "Explanation": _object({
        "keyword_rank": _nullable("integer", minimum=1),
        "keyword_score": _nullable("number"),
        "semantic_rank": _nullable("integer", minimum=1),
        "semantic_score": _nullable("number"),
        "fused_score": {"type": "number",
                        "description": "the fusion's own score (relative to the query's "
                                       "other candidates); it decides the order"},
        "coverage": _nullable("number", minimum=0, maximum=1,
                              description="share of the query's distinct terms the "
                                          "paragraph holds (null: not a keyword candidate)"),
        "evidence": _nullable("number", minimum=0, maximum=1,
                              description="absolute evidence: the larger of the scaled "
                                          "cosine and the scaled coverage; 0.5 and above "
                                          "is a match"),
        "recency": _nullable("number", minimum=0, maximum=1,
                             description="recency factor applied (null: no boost asked)"),
        "terms": {"type": "array", "items": _ref("TermMatch"),
                  "description": "the query words the paragraph holds (empty in semantic "
                                 "mode, which reads no words)"},
    }),
    "TermMatch": _object({
        "query_word": {"type": "string", "description": "as typed in the query"},
        "form": {"type": "string", "enum": MATCH_FORMS,
                 "description": "typed: its own term (or an inflection); latin: the Latin "
                                "form of a name in another alphabet; typo: a near spelling"},
        "found": {**STRINGS, "description": "the spellings in the paragraph, as written"},
    }),
    "Hit": _object({
        **PARAGRAPH_FIELDS,
        "place": _nullable("string"),
        "url": _nullable("string"),
        "snippet": {"type": "string", "description": "HTML-escaped, terms in <mark>"},
        "highlighted": {"type": "string", "description": "HTML-escaped, terms in <mark>"},
        "score": {"type": "number", "minimum": 0, "maximum": 1,
                  "description": "comparable across queries: the query's best evidence "
                                 "(0.5..1) times the hit's fused score relative to the "
                                 "query's best, times its recency factor; for a closest "
                                 "paragraph, its own evidence (below 0.5)"},
        "explain": _ref("Explanation"),
        "translations": {"type": "array", "items": _ref("Translation"),
                         "description": "The same paragraph in other languages (its "
                                        "translation group, one per language)"},
    }),
    "Translation": _object({
        "paragraph_id": {"type": "string"},
        "article_id": {"type": "string"},
        "position": {"type": "integer", "minimum": 0},
        "lang": {"type": "string"},
        "title": {"type": "string"},
    }),
    "ParagraphWithGroup": _object({
        **PARAGRAPH_FIELDS,
        "translations": {"type": "array", "items": _ref("Translation")},
    }),
    "SimilarParagraph": _object({
        **PARAGRAPH_FIELDS,
        "score": {"type": "number", "description": "cosine similarity"},
        "translation": {"type": "boolean",
                        "description": "in the paragraph's translation group"},
    }),
    "SimilarParagraphs": _object({
        "paragraph_id": {"type": "string"},
        "results": {"type": "array", "items": _ref("SimilarParagraph")},
    }),
    "ArticleRef": _object({
        "id": {"type": "string"},
        "title": {"type": "string"},
        "lang": {"type": "string"},
        "date": _nullable("string", format="date"),
    }),
    "Filters": _object({
        "languages": STRINGS,
        "article_ids": STRINGS,
        "sources": STRINGS,
        "date_from": _nullable("string", format="date"),
        "date_to": _nullable("string", format="date"),
    }),
    "UnderstoodQuery": _object({
        "text": {"type": "string"},
        "lang": {"type": "string"},
        "lang_detected": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["hybrid", "keyword", "semantic"]},
        "fusion": _nullable("string", enum=[*FUSIONS, None]),
        "alpha": _nullable("number", minimum=0, maximum=1),
        "filters": _ref("Filters"),
        "one_per_article": {"type": "boolean"},
        "sort": {"type": "string", "enum": ["relevance", "date"]},
        "recency": _nullable("number", description="half-life in days of the recency boost"),
        "collapse": {"type": "string", "enum": ["none", "translations"]},
    }),
    "Facets": _object({
        "languages": {"type": "object", "additionalProperties": {"type": "integer"},
                      "description": "matching paragraphs per language, most first"},
        "sources": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "matching paragraphs per source ('none': no source)"},
        "months": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "matching paragraphs per month of their article's date, "
                                  "YYYY-MM, newest first ('none': undated)"},
    }),
    "SearchPage": _object({
        "query": _ref("UnderstoodQuery"),
        "page": {"type": "integer", "minimum": 1},
        "size": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0,
                  "description": "paragraphs that match: "
                                 "those holding at least half the query's distinct terms, "
                                 "or whose meaning is at least the semantic floor close to "
                                 "it. 0 means nothing in the index is about the query."},
        "listed": {"type": "integer", "minimum": 0,
                   "description": "results to page through: the ranking (the matches "
                                  "and weaker candidates; only the matches in date order), "
                                  "each article or story once with one_per_article or "
                                  "collapse=translations; 0 when nothing matches"},
        "total_relation": {"type": "string", "enum": ["eq", "gte"],
                           "description": "eq: total is exact; gte: a lower bound (a side's "
                                          "count window filled up, more may match)"},
        "took_ms": {"type": "number", "minimum": 0},
        "generation": {"type": "string"},
        "results": {"type": "array", "items": _ref("Hit"),
                    "description": "this page of the ranking (the matches, and in relevance "
                                   "order the weaker candidates where the ranking puts "
                                   "them: explain.evidence < 0.5); empty when nothing "
                                   "matches"},
        "closest": {"type": "array", "items": _ref("Hit"),
                    "description": "only when nothing matches (total 0): the first page of "
                                   "the ranking, none of them a match (a cross-lingual "
                                   "answer may be among them: its meaning can be closer than "
                                   "its cosine shows), for the reader to judge; empty "
                                   "otherwise"},
        "facets": _ref("Facets"),
    }),
    "Paragraph": _object({
        "paragraph_id": {"type": "string"},
        "position": {"type": "integer", "minimum": 0},
        "lang": {"type": "string"},
        "text": {"type": "string"},
    }),
    "Article": _object({
        "id": {"type": "string"},
        "path": {"type": "string"},
        "title": {"type": "string"},
        "date": _nullable("string", format="date"),
        "place": _nullable("string"),
        "source": _nullable("string"),
        "url": _nullable("string"),
        "lang": {"type": "string"},
        "paragraphs": {"type": "array", "items": _ref("Paragraph")},
        "versions": {"type": "array", "items": _ref("ArticleRef"),
                     "description": "This article in other languages"},
    }),
    "Stats": _object({
        "index_dir": {"type": "string"},
        "generation": {"type": "string"},
        "created": {"type": "string"},
        "model": {"type": "string"},
        "dim": {"type": "integer", "minimum": 1},
        "articles": {"type": "integer", "minimum": 0},
        "paragraphs": {"type": "integer", "minimum": 0},
        "languages": {"type": "object", "additionalProperties": {"type": "integer"},
                      "description": "paragraphs per language code"},
        "approximate": {"type": "boolean", "description": "HNSW rather than exact search"},
        "precision": {"type": "string", "enum": ["fp32", "bf16", "int8"],
                      "description": "arithmetic of the encoder that made the vectors"},
    }),
    "Health": _object({
        "status": {"type": "string", "enum": ["ok"]},
        "generation": {"type": "string"},
        "created": {"type": "string"},
        "model": {"type": "string"},
        "articles": {"type": "integer", "minimum": 0},
        "paragraphs": {"type": "integer", "minimum": 0},
        "languages": {"type": "integer", "minimum": 0},
    }),
    "Problem": _object({"path": {"type": "string"}, "reason": {"type": "string"}}),
    "IndexSummary": _object({
        **{name: {"type": "integer", "minimum": 0} for name in (
            "added", "changed", "removed", "unchanged", "skipped", "paragraphs_added",
            "paragraphs_removed", "paragraphs_embedded")},
        "problems": {"type": "array", "items": _ref("Problem")},
        "warnings": STRINGS,
        "generation": _nullable("string"),
        "seconds": {"type": "number", "minimum": 0},
        "grouping_seconds": {"type": "number", "minimum": 0},
        "paragraphs_per_second": {"type": "number", "minimum": 0},
    }),
    "Job": _object({
        "id": {"type": "string"},
        "trigger": {"type": "string", "enum": ["api", "watch"]},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "created": {"type": "string"},
        "started": _nullable("string"),
        "finished": _nullable("string"),
        "summary": {**_ref("IndexSummary"), "nullable": True},
        "error": _nullable("string"),
        "status_url": {"type": "string"},
    }),
}


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
        _query_parameter("mode", {"type": "string", "enum": ["hybrid", "keyword", "semantic"],
                                  "default": "hybrid"}, "Which index ranks the results."),
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
        _query_parameter("fusion", {"type": "string", "enum": list(FUSIONS)},
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
        _query_parameter("sort", {"type": "string", "enum": ["relevance", "date"],
                                  "default": "relevance"},
                         "relevance, or date: newest article first, undated last, ties by "
                         "relevance. Either way only matches are listed."),
        _query_parameter("recency", {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                                     "maximum": settings.max_recency_days},
                         "A recency boost: each match's score is multiplied by "
                         "0.5 ** (age in days / recency), so recency=30 halves the score "
                         "of a month-old article; undated articles count as one half-life "
                         "old. Example: ?q=talks&recency=30"),
        _query_parameter("collapse", {"type": "string", "enum": ["none", "translations"],
                                      "default": "none"},
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
                    "200": _json(_ref("SearchPage"), "One page of results"),
                    "400": _error("A parameter is missing or wrong; the message says which"),
                },
            }},
            "/api/articles/{article_id}": {"get": {
                "operationId": "article",
                "summary": "One article with its paragraphs in order",
                "parameters": [{"name": "article_id", "in": "path", "required": True,
                                "schema": {"type": "string", "minLength": 1},
                                "description": "The article id: its path under seeds/"}],
                "responses": {
                    "200": _json(_ref("Article"), "The article"),
                    "404": _error("No such article"),
                },
            }},
            "/api/paragraphs/{paragraph_id}": {"get": {
                "operationId": "paragraph",
                "summary": "One paragraph with its translations",
                "parameters": [_paragraph_id()],
                "responses": {
                    "200": _json(_ref("ParagraphWithGroup"), "The paragraph"),
                    "404": _error("No such paragraph"),
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
                    "200": _json(_ref("SimilarParagraphs"), "Best first"),
                    "400": _error("size is out of range"),
                    "404": _error("No such paragraph"),
                },
            }},
            "/api/stats": {"get": {
                "operationId": "stats",
                "summary": "What the index holds",
                "responses": {"200": _json(_ref("Stats"), "Index statistics")},
            }},
            "/api/health": {"get": {
                "operationId": "health",
                "summary": "Liveness, with the generation served and its counts",
                "responses": {"200": _json(_ref("Health"), "The server is answering")},
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
                    "202": _json(_ref("Job"), "The job was started; poll its status_url"),
                    "401": _error("A token is configured and none was sent"),
                    "403": _error("Wrong token, or a remote caller and no token configured"),
                    "409": _error("A reindex job is already running (started through any "
                                  "worker); the error names it and its status URL"),
                    "413": _error("The request body is too large"),
                },
            }},
            "/api/reindex/{job_id}": {"get": {
                "operationId": "reindexStatus",
                "summary": "A reindex job's status, and its summary or error once finished",
                "parameters": [{"name": "job_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": _json(_ref("Job"), "The job, whichever worker runs it"),
                    "404": _error("No such job (or no longer remembered)"),
                },
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"reindexToken": {"type": "http", "scheme": "bearer"}},
        },
    }
