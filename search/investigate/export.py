"""Every match of a query as CSV or JSON Lines, written as the engine makes the hits.

CSV opens in a spreadsheet as it is: UTF-8 with a byte-order mark (which Excel needs to
read UTF-8), every field quoted, and cells a spreadsheet would run as a formula (starting
with =, +, -, @, a tab or a carriage return) prefixed with an apostrophe, as OWASP advises
against CSV injection. A list cut at the limit ends with a row (CSV) or a line (JSONL)
saying so.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

import regex

from search.ranking.explain import TermMatch
from search.results import Hit, Matching

# The most rows an export writes; beyond it the output says it was cut.
EXPORT_LIMIT = 100_000
BOM = "\ufeff"
COLUMNS = ("paragraph_id", "article_id", "title", "lang", "date", "source", "place", "url",
           "score", "why", "snippet")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MARK = regex.compile(r"</?mark>")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


MEDIA_TYPES = {ExportFormat.CSV: "text/csv; charset=utf-8",
               ExportFormat.JSONL: "application/x-ndjson; charset=utf-8"}


def why(terms: Iterable[TermMatch], semantic_score: float | None) -> str:
    """Why a paragraph matched, in words: each query word, its form and the spellings found
    ("Zelensky: latin (Зеленского)"); "semantic" when no word of the query is in it."""
    parts = [f"{t.query_word}: {t.form.value} ({', '.join(t.found)})" for t in terms]
    if not parts:
        return "semantic" if semantic_score is not None else ""
    return "; ".join(parts)


def plain(marked: str) -> str:
    """A snippet's text without its marks and HTML escapes."""
    return html.unescape(_MARK.sub("", marked))


def hit_row(hit: Hit) -> dict[str, Any]:
    """One exported match."""
    return {"paragraph_id": hit.paragraph_id, "article_id": hit.article_id,
            "title": hit.title, "lang": hit.lang, "date": hit.date, "source": hit.source,
            "place": hit.place, "url": hit.url, "score": hit.score,
            "why": why(hit.explain.terms, hit.explain.semantic_score),
            "terms": [{"query_word": t.query_word, "form": t.form.value,
                       "found": list(t.found)} for t in hit.explain.terms],
            "snippet": plain(hit.snippet)}


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_line(cells: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow(
        [safe_cell(cell) for cell in cells])
    return out.getvalue()


def _cut_note(matching: Matching, limit: int) -> str:
    return (f"cut at {limit} rows: more paragraphs match; narrow the query (languages, "
            "dates) to export the rest")


def export_lines(matching: Matching, fmt: ExportFormat, limit: int = EXPORT_LIMIT
                 ) -> Iterator[str]:
    """The export of `matching` line by line (each line ends in a newline), closing it at
    the end."""
    try:
        if fmt is ExportFormat.CSV:
            yield BOM + csv_line(COLUMNS)
            for hit in matching.hits:
                row = hit_row(hit)
                yield csv_line(row[column] for column in COLUMNS)
            if matching.cut:
                yield csv_line(["#cut", *([""] * (len(COLUMNS) - 2)), _cut_note(matching, limit)])
            return
        for hit in matching.hits:
            yield json.dumps(hit_row(hit), ensure_ascii=False) + "\n"
        if matching.cut:
            yield json.dumps({"cut": True, "rows": matching.count,
                              "note": _cut_note(matching, limit)}) + "\n"
    finally:
        matching.close()
