"""The response schemas of the JSON API's OpenAPI document (web/openapi.py builds the
document around them). Objects are closed, so a new field must be documented here."""

from __future__ import annotations

from typing import Any

from search.encoders.precision import Precision
from search.ranking.explain import MatchForm
from search.ranking.fusion import FusionMethod
from search.ranking.ordering import Collapse, Sort
from search.ranking.query import Mode, choices


def nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "nullable": True, **extra}


def closed_object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "required": list(properties), "properties": properties}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_body(description: str) -> dict[str, Any]:
    return json_body(ref("Error"), description)


STRINGS = {"type": "array", "items": {"type": "string"}}

PARAGRAPH_FIELDS: dict[str, Any] = {
    "paragraph_id": {"type": "string"},
    "article_id": {"type": "string"},
    "title": {"type": "string"},
    "lang": {"type": "string"},
    "date": nullable("string", format="date"),
    "source": nullable("string"),
    "position": {"type": "integer", "minimum": 0},
    "text": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "Error": closed_object({"error": {"type": "string"}}),
    "Explanation": closed_object({
        "keyword_rank": nullable("integer", minimum=1),
        "keyword_score": nullable("number"),
        "semantic_rank": nullable("integer", minimum=1),
        "semantic_score": nullable("number"),
        "fused_score": {"type": "number",
                        "description": "the fusion's own score (relative to the query's "
                                       "other candidates); it decides the order"},
        "coverage": nullable("number", minimum=0, maximum=1,
                              description="share of the query's distinct terms the "
                                          "paragraph holds (null: not a keyword candidate)"),
        "evidence": nullable("number", minimum=0, maximum=1,
                              description="absolute evidence: the larger of the scaled "
                                          "cosine and the scaled coverage; 0.5 and above "
                                          "is a match"),
        "recency": nullable("number", minimum=0, maximum=1,
                             description="recency factor applied (null: no boost asked)"),
        "terms": {"type": "array", "items": ref("TermMatch"),
                  "description": "the query words the paragraph holds (empty in semantic "
                                 "mode, which reads no words)"},
    }),
    "TermMatch": closed_object({
        "query_word": {"type": "string", "description": "as typed in the query"},
        "form": {"type": "string", "enum": choices(MatchForm),
                 "description": "typed: its own term (or an inflection); latin: the Latin "
                                "form of a name in another alphabet; typo: a near spelling"},
        "found": {**STRINGS, "description": "the spellings in the paragraph, as written"},
    }),
    "Hit": closed_object({
        **PARAGRAPH_FIELDS,
        "place": nullable("string"),
        "url": nullable("string"),
        "snippet": {"type": "string", "description": "HTML-escaped, terms in <mark>"},
        "highlighted": {"type": "string", "description": "HTML-escaped, terms in <mark>"},
        "score": {"type": "number", "minimum": 0, "maximum": 1,
                  "description": "comparable across queries: the query's best evidence "
                                 "(0.5..1) times the hit's fused score relative to the "
                                 "query's best, times its recency factor; for a closest "
                                 "paragraph, its own evidence (below 0.5)"},
        "explain": ref("Explanation"),
        "translations": {"type": "array", "items": ref("Translation"),
                         "description": "The same paragraph in other languages (its "
                                        "translation group, one per language)"},
    }),
    "Translation": closed_object({
        "paragraph_id": {"type": "string"},
        "article_id": {"type": "string"},
        "position": {"type": "integer", "minimum": 0},
        "lang": {"type": "string"},
        "title": {"type": "string"},
    }),
    "ParagraphWithGroup": closed_object({
        **PARAGRAPH_FIELDS,
        "translations": {"type": "array", "items": ref("Translation")},
    }),
    "SimilarParagraph": closed_object({
        **PARAGRAPH_FIELDS,
        "score": {"type": "number", "description": "cosine similarity"},
        "translation": {"type": "boolean",
                        "description": "in the paragraph's translation group"},
    }),
    "SimilarParagraphs": closed_object({
        "paragraph_id": {"type": "string"},
        "results": {"type": "array", "items": ref("SimilarParagraph")},
    }),
    "ArticleRef": closed_object({
        "id": {"type": "string"},
        "title": {"type": "string"},
        "lang": {"type": "string"},
        "date": nullable("string", format="date"),
    }),
    "Filters": closed_object({
        "languages": STRINGS,
        "article_ids": STRINGS,
        "sources": STRINGS,
        "date_from": nullable("string", format="date"),
        "date_to": nullable("string", format="date"),
    }),
    "UnderstoodQuery": closed_object({
        "text": {"type": "string"},
        "lang": {"type": "string"},
        "lang_detected": {"type": "boolean"},
        "mode": {"type": "string", "enum": choices(Mode)},
        "fusion": nullable("string", enum=[*choices(FusionMethod), None]),
        "alpha": nullable("number", minimum=0, maximum=1),
        "filters": ref("Filters"),
        "one_per_article": {"type": "boolean"},
        "sort": {"type": "string", "enum": choices(Sort)},
        "recency": nullable("number", description="half-life in days of the recency boost"),
        "collapse": {"type": "string", "enum": choices(Collapse)},
    }),
    "Facets": closed_object({
        "languages": {"type": "object", "additionalProperties": {"type": "integer"},
                      "description": "matching paragraphs per language, most first"},
        "sources": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "matching paragraphs per source ('none': no source)"},
        "months": {"type": "object", "additionalProperties": {"type": "integer"},
                   "description": "matching paragraphs per month of their article's date, "
                                  "YYYY-MM, newest first ('none': undated)"},
    }),
    "SearchPage": closed_object({
        "query": ref("UnderstoodQuery"),
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
        "results": {"type": "array", "items": ref("Hit"),
                    "description": "this page of the ranking (the matches, and in relevance "
                                   "order the weaker candidates where the ranking puts "
                                   "them: explain.evidence < 0.5); empty when nothing "
                                   "matches"},
        "closest": {"type": "array", "items": ref("Hit"),
                    "description": "only when nothing matches (total 0): the first page of "
                                   "the ranking, none of them a match (a cross-lingual "
                                   "answer may be among them: its meaning can be closer than "
                                   "its cosine shows), for the reader to judge; empty "
                                   "otherwise"},
        "facets": ref("Facets"),
    }),
    "Paragraph": closed_object({
        "paragraph_id": {"type": "string"},
        "position": {"type": "integer", "minimum": 0},
        "lang": {"type": "string"},
        "text": {"type": "string"},
    }),
    "Article": closed_object({
        "id": {"type": "string"},
        "path": {"type": "string"},
        "title": {"type": "string"},
        "date": nullable("string", format="date"),
        "place": nullable("string"),
        "source": nullable("string"),
        "url": nullable("string"),
        "lang": {"type": "string"},
        "paragraphs": {"type": "array", "items": ref("Paragraph")},
        "versions": {"type": "array", "items": ref("ArticleRef"),
                     "description": "This article in other languages"},
    }),
    "Stats": closed_object({
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
        "precision": {"type": "string", "enum": [p.value for p in Precision],
                      "description": "arithmetic of the encoder that made the vectors"},
    }),
    "Health": closed_object({
        "status": {"type": "string", "enum": ["ok"]},
        "generation": {"type": "string"},
        "created": {"type": "string"},
        "model": {"type": "string"},
        "articles": {"type": "integer", "minimum": 0},
        "paragraphs": {"type": "integer", "minimum": 0},
        "languages": {"type": "integer", "minimum": 0},
    }),
    "Problem": closed_object({"path": {"type": "string"}, "reason": {"type": "string"}}),
    "IndexSummary": closed_object({
        **{name: {"type": "integer", "minimum": 0} for name in (
            "added", "changed", "removed", "unchanged", "skipped", "records_skipped",
            "paragraphs_added",
            "paragraphs_removed", "paragraphs_embedded")},
        "problems": {"type": "array", "items": ref("Problem")},
        "warnings": STRINGS,
        "generation": nullable("string"),
        "seconds": {"type": "number", "minimum": 0},
        "grouping_seconds": {"type": "number", "minimum": 0},
        "paragraphs_per_second": {"type": "number", "minimum": 0},
    }),
    "Job": closed_object({
        "id": {"type": "string"},
        "trigger": {"type": "string", "enum": ["api", "watch"]},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "created": {"type": "string"},
        "started": nullable("string"),
        "finished": nullable("string"),
        "summary": {**ref("IndexSummary"), "nullable": True},
        "error": nullable("string"),
        "status_url": {"type": "string"},
    }),
}


