"""Readers for JSON (one object or a list of objects) and JSON Lines (one object a line)."""

from __future__ import annotations

import json
import re
from typing import Any

from search.errors import UnreadableFile
from search.ingest.article import Article, FileArticles, LostRecords
from search.ingest.cleanup import clean, fallback_title, one_line, replace_surrogates, tidy
from search.ingest.datelines import iso_date, take_dateline


def _int_or_digits(digits: str) -> int | str:
    try:
        return int(digits)
    except ValueError:  # beyond Python's int-from-string digit limit: keep the digits
        return digits


def _parse_json(text: str) -> Any:
    """The JSON value; raises json.JSONDecodeError or UnreadableFile (too deep)."""
    try:
        return json.loads(text, parse_int=_int_or_digits)
    except RecursionError as exc:
        raise UnreadableFile("JSON nested too deeply to read") from exc


def _field(record: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = "\n\n".join(value)
        if isinstance(value, str) and value.strip():
            return clean(value)
    return None


def _record_article(path: str, record: Any, article_id: str) -> Article | None:
    """The article of one JSON object, or None when it is not an object or has no text."""
    if not isinstance(record, dict):
        return None
    text = tidy(_field(record, "text", "body", "content") or "")
    if not text:
        return None
    title = one_line(_field(record, "title") or "") or fallback_title(text)
    lang = _field(record, "lang")
    opening = take_dateline(text, iso_date(record.get("date")),
                            one_line(_field(record, "source") or "") or None)
    return Article(
        id=article_id,
        path=path,
        title=title,
        text=opening.body,
        date=opening.date,
        place=opening.place,
        source=opening.source,
        url=(_field(record, "url") or "").strip() or None,
        lang=lang.strip() if lang else None,
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _id_problem(record: Any) -> str | None:
    """Why a record's id cannot be an article id (its links would not work), if it cannot."""
    raw = record.get("id") if isinstance(record, dict) else None
    if not isinstance(raw, str):
        return None
    if _CONTROL.search(raw) or any(part in (".", "..") for part in raw.split("/")):
        return (f"its id {raw[:40]!r} holds a line break, a control character or a '.' or "
                "'..' segment; give it another id")
    return None


def _record_id(path: str, record: Any, index: int, taken: set[str]) -> str:
    raw = record.get("id") if isinstance(record, dict) else None
    valid = isinstance(raw, str | int) and not isinstance(raw, bool)
    key = replace_surrogates(str(raw)).strip() if valid else ""
    candidate = f"{path}#{key or index}"
    unique, n = candidate, 2
    while unique in taken:  # ids repeated inside one file still get distinct article ids
        unique, n = f"{candidate}~{n}", n + 1
    taken.add(unique)
    return unique


def read_json(path: str, text: str) -> FileArticles:
    """One article for an object, one per usable object for a list; the members a list
    loses are counted (FileArticles.lost)."""
    try:
        value = _parse_json(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    if isinstance(value, dict):
        article = _record_article(path, value, path)
        if article is None:
            raise UnreadableFile("the JSON object has no usable text, body or content field")
        return FileArticles([article])
    if not isinstance(value, list):
        raise UnreadableFile("the JSON must be an object or a list of objects")
    taken: set[str] = set()
    found: list[Article] = []
    lost: list[str] = []
    for i, record in enumerate(value):
        refused = _id_problem(record)
        if refused:
            lost.append(f"member {i}: {refused}")
            continue
        article = _record_article(path, record, _record_id(path, record, i, taken))
        if article is None:
            lost.append(f"member {i}: {_why_unusable(record)}")
        else:
            found.append(article)
    if not found:
        raise UnreadableFile("no object in the JSON list has a usable text, body or content field")
    return FileArticles(found, _lost(lost, len(value)))


def read_jsonl(path: str, text: str) -> FileArticles:
    """One article per line holding a usable object; the lines that hold none are counted
    (FileArticles.lost), and the file is unreadable only when every line is. A last line
    without its newline that does not parse is being written: reported as such, and read
    once complete (the file's hash changes then)."""
    articles: list[Article] = []
    errors: list[str] = []
    taken: set[str] = set()
    records = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    for index, (line_number, line) in enumerate(records):
        try:
            record = _parse_json(line)
        except json.JSONDecodeError as exc:
            last = index == len(records) - 1 and not text.endswith("\n")
            errors.append(f"malformed JSON at line {line_number}, column {exc.colno}: {exc.msg}"
                          + (" (the last line, without its newline: still being written?)"
                             if last else ""))
            continue
        except UnreadableFile as exc:
            errors.append(f"line {line_number}: {exc}")
            continue
        refused = _id_problem(record)
        if refused:
            errors.append(f"line {line_number}: {refused}")
            continue
        article = _record_article(path, record, _record_id(path, record, index, taken))
        if article is None:
            errors.append(f"line {line_number}: {_why_unusable(record)}")
        else:
            articles.append(article)
    if not articles:
        raise UnreadableFile(
            next((e for e in errors if e.startswith("malformed")),
                 "no line holds an object with a usable text field")
        )
    return FileArticles(articles, _lost(errors, len(records)))


def _why_unusable(record: Any) -> str:
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__.replace('NoneType', 'null')}, not an object"
    return "no usable text, body or content field"


def _lost(reasons: list[str], total: int) -> LostRecords | None:
    return LostRecords(len(reasons), total, reasons[0]) if reasons else None
