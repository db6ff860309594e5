"""Reading a batch: a text list (one query a line) or a CSV with a `query` column and
optional per-row `mode`, `lang` and `date_from` / `date_to`.

Each line is read on its own, so a bad one (an unclosed quote, too many fields, an unknown
mode) is reported with its line number and the others still run. A CSV row is one line:
a query holding a line break cannot be in a batch. Blank lines and, in text lists, lines
starting with # are skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from enum import StrEnum

import regex

from search.errors import InvalidQuery
from search.ranking.query import Mode

# The most queries one batch may hold (the CLI and the API).
BATCH_LIMIT = 10_000
CSV_COLUMNS = ("query", "mode", "lang", "date_from", "date_to")
_LANG_SEPARATORS = regex.compile(r"[\s;|,]+")


class InputFormat(StrEnum):
    TEXT = "text"
    CSV = "csv"


@dataclass(frozen=True)
class BatchItem:
    """One query of a batch, with its line number in the input (1-based) and its options."""

    line: int
    text: str
    mode: Mode | None = None  # None: the batch's mode
    languages: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None


@dataclass(frozen=True)
class BatchProblem:
    """A line that could not be read as a query, and why."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class BatchInput:
    items: list[BatchItem] = field(default_factory=list)
    problems: list[BatchProblem] = field(default_factory=list)


def guess_format(name: str | None, text: str) -> InputFormat:
    """CSV for a .csv name or a first line naming a `query` column; text otherwise."""
    if name and name.lower().endswith(".csv"):
        return InputFormat.CSV
    first = next((line for line in text.splitlines() if line.strip()), "")
    header = [cell.strip().lower() for cell in first.split(",")]
    return InputFormat.CSV if "query" in header and len(header) > 1 else InputFormat.TEXT


def read_batch(text: str, fmt: InputFormat, limit: int = BATCH_LIMIT) -> BatchInput:
    """The queries of a batch and the lines that are not. Raises InvalidQuery for a batch
    with no query, a CSV without a `query` column, or more than `limit` queries."""
    found = (_read_csv(text) if fmt is InputFormat.CSV else _read_text(text))
    if len(found.items) > limit:
        raise InvalidQuery(f"a batch holds at most {limit} queries, not {len(found.items)}; "
                           "split it")
    if not found.items and not found.problems:
        raise InvalidQuery("the batch holds no query: one query a line, or a CSV with a "
                           "query column")
    return found


def _read_text(text: str) -> BatchInput:
    found = BatchInput()
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        query = line.strip()
        if query and not query.startswith("#"):
            found.items.append(BatchItem(number, query))
    return found


def _read_csv(text: str) -> BatchInput:
    lines = text.lstrip("\ufeff").splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        return BatchInput()
    try:
        header = [cell.strip().lower() for cell in _cells(lines[header_at])]
    except csv.Error as exc:
        raise InvalidQuery(f"line {header_at + 1}: the CSV header cannot be read ({exc})"
                           ) from None
    if "query" not in header:
        raise InvalidQuery(f"line {header_at + 1}: a CSV batch needs a query column; the "
                           f"columns it may have are {', '.join(CSV_COLUMNS)}")
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        raise InvalidQuery(f"line {header_at + 1}: unknown column {', '.join(unknown)}; the "
                           f"columns it may have are {', '.join(CSV_COLUMNS)}")
    found = BatchInput()
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not line.strip():
            continue
        try:
            found.items.append(_item(number, header, _cells(line)))
        except (csv.Error, InvalidQuery) as exc:
            found.problems.append(BatchProblem(number, line, str(exc)))
    return found


def _cells(line: str) -> list[str]:
    # strict: an unclosed quote is an error rather than a query running to the file's end.
    return next(csv.reader([line], strict=True), [])


def _item(number: int, header: list[str], cells: list[str]) -> BatchItem:
    if len(cells) > len(header):
        raise InvalidQuery(f"{len(cells)} fields where the header has {len(header)} "
                           "(a query holding a comma must be in double quotes)")
    return item_from_fields(number, dict(zip(header, cells, strict=False)))


def read_items(rows: list[object], limit: int = BATCH_LIMIT) -> BatchInput:
    """A batch given as a list (the JSON API): each entry a query, or an object with the
    CSV columns as keys; entry n is line n."""
    if len(rows) > limit:
        raise InvalidQuery(f"a batch holds at most {limit} queries, not {len(rows)}; split it")
    if not rows:
        raise InvalidQuery("the batch holds no query")
    found = BatchInput()
    for number, row in enumerate(rows, start=1):
        try:
            if isinstance(row, str):
                found.items.append(item_from_fields(number, {"query": row}))
            elif isinstance(row, dict) and all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in row.items()):
                unknown = sorted(set(row) - set(CSV_COLUMNS))
                if unknown:
                    raise InvalidQuery(f"unknown field {', '.join(unknown)}; the fields it "
                                       f"may have are {', '.join(CSV_COLUMNS)}")
                found.items.append(item_from_fields(number, row))
            else:
                raise InvalidQuery("an entry is a query (a string) or an object of strings "
                                   f"with the fields {', '.join(CSV_COLUMNS)}")
        except InvalidQuery as exc:
            found.problems.append(BatchProblem(number, str(row)[:200], str(exc)))
    return found


def item_from_fields(number: int, fields: dict[str, str]) -> BatchItem:
    """One query from its fields (query, and optionally mode, lang, date_from, date_to)."""
    row = {name: value.strip() for name, value in fields.items()}
    query = row.get("query", "")
    if not query:
        raise InvalidQuery("the query is empty")
    mode = row.get("mode") or None
    if mode is not None and mode not in set(Mode):
        raise InvalidQuery(f"mode must be one of {', '.join(Mode)}, not {mode!r}")
    languages = tuple(code for code in _LANG_SEPARATORS.split(row.get("lang", "")) if code)
    return BatchItem(number, query, Mode(mode) if mode else None, languages,
                     row.get("date_from") or None, row.get("date_to") or None)
