"""The alerts' part of the OpenAPI document (web/openapi.py merges it): /api/alerts."""

from __future__ import annotations

from typing import Any

from search.alerts.records import AlertKind
from search.ranking.explain import MatchForm
from search.ranking.query import Mode


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **extra}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "required": [p for p in properties if p not in optional], "properties": properties}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


STRINGS = {"type": "array", "items": {"type": "string"}}
_ALERT_FIELDS: dict[str, Any] = {
    "name": {"type": "string"},
    "kind": {"type": "string", "enum": [k.value for k in AlertKind]},
    "text": {"type": "string", "description": "The query, or the watchlist one per line"},
    "mode": {"type": "string", "enum": [m.value for m in Mode]},
    "languages": STRINGS, "sources": STRINGS, "created": {"type": "string"},
    "feed": {"type": "string", "description": "The Atom feed's path (keep it private)"},
    "webhook_url": _nullable("string"), "email": _nullable("string"),
}
_WHY = _object({
    "words": {"type": "array", "items": _object({
        "word": {"type": "string"},
        "form": {"type": "string", "enum": [f.value for f in MatchForm]},
        "found": STRINGS})},
    "coverage": _nullable("number"), "cosine": _nullable("number"),
})
SCHEMAS: dict[str, Any] = {
    "Alert": _object(_ALERT_FIELDS),
    "NewAlert": _object({**_ALERT_FIELDS, "webhook_secret": {"type": "string"}},
                        optional=("webhook_secret",)),
    "Alerts": _object({"alerts": {"type": "array", "items": _ref("Alert")}}),
    "AlertWhy": _WHY,
    "AlertHit": _object({
        "paragraph_id": {"type": "string"}, "article_id": {"type": "string"},
        "title": {"type": "string"}, "lang": {"type": "string"}, "score": {"type": "number"},
        "text": {"type": "string"}, "generation": {"type": "string"},
        "found": {"type": "string"}, "url": _nullable("string"), "link": {"type": "string"},
        "why": _ref("AlertWhy"), "why_text": {"type": "string"},
        "translations": {"type": "array", "items": _object({
            "paragraph_id": {"type": "string"}, "lang": {"type": "string"},
            "title": {"type": "string"}, "generation": {"type": "string"},
            "link": {"type": "string"}, "why": _ref("AlertWhy")})},
    }),
    "AlertWithHits": _object({"alert": _ref("Alert"),
                              "hits": {"type": "array", "items": _ref("AlertHit")}}),
}
_CHANGERS = {
    "security": [{}, {"reindexToken": []}],
    "description": "Allowed to the callers that may reindex: local ones, or with "
                   "'Authorization: Bearer <token>' when the server has SEARCH_REINDEX_TOKEN.",
}
_REFUSED = {
    "401": _error("A token is configured and none was sent"),
    "403": _error("Wrong token, or a remote caller and no token configured"),
    "409": _error("The index is read-only: alerts cannot be changed"),
    "413": _error("The request body is too large"),
}
_NAME = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
PATHS: dict[str, Any] = {
    "/api/alerts": {
        "get": {"operationId": "alerts", "summary": "The index's alerts",
                "responses": {"200": _json(_ref("Alerts"), "Every alert")}},
        "post": {"operationId": "addAlert", "summary": "Save an alert (it watches what is "
                 "indexed from now on)", **_CHANGERS,
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": _object({
                         "name": {"type": "string"}, "text": {"type": "string"},
                         "kind": _ALERT_FIELDS["kind"], "mode": _ALERT_FIELDS["mode"],
                         "languages": STRINGS, "sources": STRINGS,
                         "webhook_url": _nullable("string"), "email": _nullable("string")},
                         optional=("kind", "mode", "languages", "sources", "webhook_url",
                                   "email"))}}},
                 "responses": {"201": _json(_ref("NewAlert"), "The alert; its webhook secret "
                                            "is shown this once"),
                               "400": _error("The alert is not acceptable; the message says "
                                             "why"), **_REFUSED}},
    },
    "/api/alerts/{name}": {
        "get": {"operationId": "alert", "summary": "An alert and its latest hits, newest "
                "first, each with why it fired and its translations",
                "parameters": [*_NAME, {"name": "size", "in": "query", "schema": {
                    "type": "integer", "minimum": 1, "maximum": 100, "default": 20}}],
                "responses": {"200": _json(_ref("AlertWithHits"), "The alert"),
                              "400": _error("size is not a number"),
                              "404": _error("No such alert")}},
        "patch": {"operationId": "changeAlert", "summary": "Change where an alert delivers, "
                  "or its text ('' removes a webhook or an address)", **_CHANGERS,
                  "parameters": _NAME,
                  "requestBody": {"required": True, "content": {"application/json": {
                      "schema": _object({"webhook_url": {"type": "string"},
                                         "email": {"type": "string"},
                                         "text": {"type": "string"}},
                                        optional=("webhook_url", "email", "text"))}}},
                  "responses": {"200": _json(_ref("Alert"), "The changed alert"),
                                "400": _error("Not acceptable"), "404": _error("No such alert"),
                                **_REFUSED}},
        "delete": {"operationId": "removeAlert", "summary": "Remove an alert with its hits",
                   **_CHANGERS, "parameters": _NAME,
                   "responses": {"204": {"description": "Removed"},
                                 "404": _error("No such alert"), **_REFUSED}},
    },
}
