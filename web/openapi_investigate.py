"""The OpenAPI description of batch search, export and the timeline (web/investigate.py,
web/export.py), added to the document of openapi.py in one place."""

from __future__ import annotations

import copy
from typing import Any

from search.investigate.batch_input import BATCH_LIMIT, CSV_COLUMNS
from search.investigate.export import COLUMNS, EXPORT_LIMIT, MEDIA_TYPES, ExportFormat
from search.ranking.query import Mode

from .batch_jobs import KEEP, MAX_WAITING, RUN_AT_ONCE
from .export import FORMATS, INTERVALS
from .jobs import JobStatus

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": kind, "nullable": True}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": list(properties),
            "properties": properties}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


SCHEMAS: dict[str, Any] = {
    "BatchHit": _object({
        "paragraph_id": {"type": "string"}, "article_id": {"type": "string"},
        "title": {"type": "string"}, "lang": {"type": "string"},
        "date": _nullable("string"), "score": {"type": "number"},
        "why": {"type": "string", "description": "each query word found, its form (typed, "
                                                 "latin, typo) and the spellings; or "
                                                 "'semantic'"},
        "snippet": {"type": "string", "description": "plain text"},
    }),
    "BatchResult": _object({
        "line": {"type": "integer", "minimum": 1,
                 "description": "the query's line in the input (its position in a list)"},
        "query": {"type": "string"},
        "mode": {"type": "string", "description": "empty for a line that could not be read"},
        "total": {"type": "integer", "minimum": 0},
        "total_relation": {"type": "string", "enum": ["eq", "gte"]},
        "languages": {**_COUNTS, "description": "matches per language"},
        "spellings": {**_STRINGS, "description": "how the query's words are written in its "
                                                 "best matches (one per article)"},
        "hits": {"type": "array", "items": _ref("BatchHit")},
        "error": {**_nullable("string"), "description": "why the line did not run"},
    }),
    "BatchJob": _object({
        "id": {"type": "string"},
        "status": {"type": "string", "enum": [s.value for s in JobStatus]},
        "created": {"type": "string"}, "started": _nullable("string"),
        "finished": _nullable("string"),
        "mode": {"type": "string", "enum": [m.value for m in Mode]},
        "queries": {"type": "integer", "minimum": 0},
        "done": {"type": "integer", "minimum": 0}, "seconds": _nullable("number"),
        "failed": {"type": "integer", "minimum": 0}, "error": _nullable("string"),
        "results": {"type": "array", "items": _ref("BatchResult"), "nullable": True,
                    "description": "in line order, once the batch is done"},
        "status_url": {"type": "string"}, "page_url": {"type": "string"},
        "csv_url": {"type": "string"}, "json_url": {"type": "string"},
    }),
}

_JOB = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
_POLICY = (f"Whoever may search may run a batch (it reads what /api/search reads); the load "
           f"is bounded: at most {BATCH_LIMIT:,} queries and 2 MB a batch, one batch computed "
           f"at a time per worker process, at most {MAX_WAITING} waiting (then 429), the last "
           f"{KEEP} batches' results kept. A batch of at most {RUN_AT_ONCE} queries is answered "
           "at once (200); a larger one with 202 and its status_url to poll.")

PATHS: dict[str, Any] = {
    "/api/batch": {"post": {
        "operationId": "batch",
        "summary": "Search many queries at once: counts per language, spellings, first hits",
        "description": _POLICY,
        "parameters": [{"name": "mode", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": [m.value for m in Mode]},
                        "description": "mode of the queries that do not give one "
                                       "(default keyword)"}],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [
                {"type": "array", "maxItems": BATCH_LIMIT, "items": {"oneOf": [
                    {"type": "string"},
                    {"type": "object", "required": ["query"], "additionalProperties": False,
                     "properties": {name: {"type": "string"} for name in CSV_COLUMNS}}]}},
                {"type": "object", "required": ["queries"],
                 "properties": {"queries": {"type": "array"},
                                "mode": {"type": "string",
                                         "enum": [m.value for m in Mode]}}}]}},
            "text/csv": {"schema": {"type": "string"},
                         "example": "query,lang\nZelensky,\nЗеленский,ru;uk\n"},
            "text/plain": {"schema": {"type": "string"}, "example": "Zelensky\nPeskov\n"},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        }},
        "responses": {
            "200": {"description": "The batch ran; its results",
                    "content": {"application/json": {"schema": _ref("BatchJob")}}},
            "202": {"description": "A large batch was started; poll status_url",
                    "content": {"application/json": {"schema": _ref("BatchJob")}}},
            "400": _error("No query, a CSV without a query column, or too many queries"),
            "413": _error("The body is larger than 2 MB"),
            "429": _error("Too many batches are waiting"),
        },
    }},
    "/api/batch/{job_id}": {"get": {
        "operationId": "batchStatus",
        "summary": "A batch's progress, and its results once done (CSV and JSON at csv_url "
                   "and json_url)",
        "parameters": [_JOB],
        "responses": {"200": {"description": "The batch",
                              "content": {"application/json": {"schema": _ref("BatchJob")}}},
                      "404": _error("No such batch (or no longer kept)")},
    }},
}

SEARCH_PARAMETERS = [
    {"name": "format", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
     "description": f"csv or jsonl: every match (not a page), up to {EXPORT_LIMIT:,} rows, "
                    "streamed; a cut list ends with a row saying so (X-Matches-Cut: true). "
                    f"Columns: {', '.join(COLUMNS)}. CSV is UTF-8 with a byte-order mark, "
                    "every field quoted, cells starting with = + - @ tab or CR prefixed "
                    "with an apostrophe."},
    {"name": "interval", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(INTERVALS), "default": "auto"},
     "description": "the periods of facets.dates: auto (by day over a short span, by "
                    "month up to ten years, else by year), day, month or year"},
]


def extend(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with batch search, export and the dates facet described."""
    document = copy.deepcopy(document)
    document["components"]["schemas"].update(SCHEMAS)
    facets = document["components"]["schemas"]["Facets"]
    facets["properties"]["dates"] = {
        **_COUNTS, "description": "matching paragraphs per period (see interval), oldest "
                                  "first, 'none' (undated) last: the timeline"}
    facets["properties"]["interval"] = {"type": "string",
                                        "enum": [i for i in INTERVALS if i != "auto"]}
    facets["required"] = [*facets["required"], "dates", "interval"]
    search = document["paths"]["/api/search"]["get"]
    search["parameters"] = [*search["parameters"], *SEARCH_PARAMETERS]
    search["responses"]["200"]["content"].update(
        {MEDIA_TYPES[fmt].split(";")[0]: {"schema": {"type": "string"}}
         for fmt in ExportFormat})
    document["paths"].update(PATHS)
    return document
