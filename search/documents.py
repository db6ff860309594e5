"""Reading seeds/: find the supported files and parse each one into Articles.

Formats: plain text (title line, optional news dateline), Markdown, HTML, JSON and JSON Lines.
Every text that leaves this module has Unix newlines, no control characters other than newline
and tab, stripped paragraphs, and exactly one blank line between paragraphs.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import json
import os
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)

from .errors import SeedsNotFound, UnreadableFile

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")


@dataclass(frozen=True)
class Article:
    """One article from seeds/; `text` has no title and a blank line between paragraphs."""

    id: str  # the path, or "path#<id field or 0-based index>" for records of .json lists / .jsonl
    path: str  # relative to seeds/, posix separators
    title: str
    text: str
    date: str | None = None  # YYYY-MM-DD, only when the year is known
    place: str | None = None  # from a dateline, e.g. "KYIV"
    source: str | None = None  # e.g. "Alliance News"
    url: str | None = None
    lang: str | None = None  # only when the input states it (json "lang")


@dataclass(frozen=True)
class SeedFile:
    path: str  # relative to seeds/, posix separators
    content_hash: str  # sha256 hex of the file's bytes


@dataclass(frozen=True)
class Problem:
    """A file scan_seeds could not take, with a short human reason."""

    path: str
    reason: str


# ---------------------------------------------------------------------------------------------
# Scanning


def scan_seeds(seeds_dir: Path) -> tuple[list[SeedFile], list[Problem]]:
    """Every supported file under seeds_dir, recursively, sorted by path, with its content hash.

    Hidden files and folders and unsupported suffixes are skipped silently. Symlinks resolving
    outside seeds_dir and files that cannot be read become Problems; a bad file never raises.
    Raises SeedsNotFound when seeds_dir is missing or not a folder.
    """
    root = _seeds_root(seeds_dir)
    files: list[SeedFile] = []
    problems: list[Problem] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            problems.append(Problem(_relative(root, folder), f"cannot list folder: {_why(exc)}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            rel = _relative(root, path)
            if entry.is_dir(follow_symlinks=False):
                pending.append(path)
            elif entry.is_symlink() and _is_dir(path):
                if not _inside(root, path):
                    reason = "symlinked folder points outside the seeds folder"
                    problems.append(Problem(rel, reason))
            elif PurePosixPath(entry.name).suffix.lower() in SUPPORTED_SUFFIXES:
                found = _seed_file(root, path, rel)
                (files if isinstance(found, SeedFile) else problems).append(found)
    files.sort(key=lambda f: f.path)
    problems.sort(key=lambda p: p.path)
    return files, problems


def _seeds_root(seeds_dir: Path) -> Path:
    try:
        is_dir = seeds_dir.is_dir()
        exists = is_dir or seeds_dir.exists()
    except OSError:
        is_dir = exists = False
    if not is_dir:
        what = "is not a folder" if exists else "does not exist"
        raise SeedsNotFound(
            f"The seeds folder {seeds_dir} {what}: create it and put articles in it, "
            "or pass --seeds with the folder that holds them."
        )
    return seeds_dir.resolve()


def _seed_file(root: Path, path: Path, rel: str) -> SeedFile | Problem:
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(root):
            return Problem(rel, "symlink points outside the seeds folder")
        if not stat.S_ISREG(real.stat().st_mode):
            return Problem(rel, "not a regular file")
        with real.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        gone = "broken symlink (its target does not exist)" if path.is_symlink() else None
        return Problem(rel, gone or "file vanished while scanning")
    except RuntimeError:  # Python 3.11 reports symlink loops this way
        return Problem(rel, "symlink loop")
    except OSError as exc:
        return Problem(rel, f"cannot be read: {_why(exc)}")
    return SeedFile(rel, digest)


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def _why(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


# ---------------------------------------------------------------------------------------------
# Reading


def read_articles(seeds_dir: Path, seed_file: SeedFile) -> list[Article]:
    """Parse one seed file into its articles (several for .json lists and .jsonl).

    Raises UnreadableFile, whose message is a short reason, for binary or non-UTF-8 content,
    an empty file, malformed JSON, JSON without a usable text, and a file that vanished.
    """
    path = seeds_dir / seed_file.path
    if not _inside(seeds_dir.resolve(), path):  # replaced by an escaping symlink since the scan
        raise UnreadableFile("symlink points outside the seeds folder")
    text = _decode(_read_bytes(path))
    suffix = PurePosixPath(seed_file.path).suffix.lower()
    parse = _PARSERS.get(suffix)
    if parse is None:
        raise UnreadableFile(f"unsupported file type {suffix!r}")
    return parse(seed_file.path, text)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise UnreadableFile("the file vanished before it could be read") from exc
    except IsADirectoryError as exc:
        raise UnreadableFile("is a folder, not a file") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {_why(exc)}") from exc


def _decode(raw: bytes) -> str:
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise UnreadableFile(f"binary content (NUL byte at offset {nul}), not text")
    skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        text = raw[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[skip + exc.start]
        offset = skip + exc.start
        raise UnreadableFile(f"not valid UTF-8 (byte 0x{byte:02x} at offset {offset})") from exc
    text = _clean(text)
    if not text.strip():
        raise UnreadableFile("empty file" if not text else "the file holds only whitespace")
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NEWLINES = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u0085": "\n", "\u2029": "\n\n"}
_NEWLINE = re.compile("|".join(map(re.escape, _NEWLINES)))


def _clean(text: str) -> str:
    """Unix newlines; control characters other than newline and tab removed."""
    return _CONTROL.sub("", _NEWLINE.sub(lambda m: _NEWLINES[m.group()], text))


def _tidy(text: str) -> str:
    """Lines stripped; paragraphs (runs of non-blank lines) separated by one blank line."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fallback_title(text: str, limit: int = 80) -> str:
    """A title made from the first line of the text, for inputs that have none."""
    first = _one_line(text.split("\n", 1)[0])
    if len(first) <= limit:
        return first
    cut = first.rfind(" ", 0, limit)
    return first[: cut if cut > 0 else limit].rstrip() + "…"


def _read_txt(path: str, text: str) -> list[Article]:
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.strip())
    title = _one_line(lines[first])
    body = _tidy("\n".join(lines[first + 1 :]))
    if not body:
        raise UnreadableFile("only a title line, no body text")
    head, sep, rest = body.partition("\n\n")
    line = parse_dateline(head)
    if line is None:
        return [Article(path, path, title, body)]
    body = line.rest + sep + rest
    return [Article(path, path, title, body, line.date, line.place, line.source)]


# ---------------------------------------------------------------------------------------------
# Datelines: "KYIV, Jul 22 (Alliance News): ", "LONDON, March 3, 2024 (Reuters) - ", ...


@dataclass(frozen=True)
class Dateline:
    place: str
    date: str | None  # ISO, only when the year is given
    source: str | None
    rest: str  # the paragraph without the dateline


_DATELINE = re.compile(
    r"(?P<head>[^\W\d_][^\n()（）:：]{0,80}?)\s*"
    r"(?:[(（](?P<source>[^\n()（）]{1,60})[)）]\s*)?"
    r"(?:--|[-–—:：])(?:[^\S\n]+|(?<=：))"
)
_COMMAS = re.compile(r"\s*[,，、،]\s*")


def parse_dateline(paragraph: str) -> Dateline | None:
    """The dateline opening a news paragraph, or None when there is none or it is doubtful.

    A dateline needs a place (upper case in cased scripts) and a source in brackets or a date.
    """
    match = _DATELINE.match(paragraph)
    rest = paragraph[match.end() :].strip() if match else ""
    if not match or not rest:
        return None
    segments = _COMMAS.split(match["head"].strip())
    place_parts, found, iso = segments, False, None
    for k in range(1, len(segments)):
        found, iso = parse_date_words(" ".join(segments[k:]))
        if found:
            place_parts = segments[:k]
            break
    source = match["source"].strip() if match["source"] else None
    place = ", ".join(place_parts)
    if not _plausible_place(place, bool(source), found):
        return None
    return Dateline(place, iso, source or None, rest)


def _plausible_place(place: str, has_source: bool, has_date: bool) -> bool:
    if not (has_source or has_date) or not place or len(place) > 40 or len(place.split()) > 5:
        return False
    if any(ch.isdigit() for ch in place) or any(not part for part in _COMMAS.split(place)):
        return False
    if any(ch.lower() != ch.upper() for ch in place):  # a cased script: capitals expected
        city, *region = _COMMAS.split(place)  # "SAN FRANCISCO, Calif."
        capitals = city == city.upper() and all(part[0].isupper() for part in region)
        return capitals or (has_source and has_date and place.istitle())
    return has_source


_MONTH_NAMES = (
    "january januar janvier enero gennaio janeiro январь января يناير",
    "february februar février fevrier febrero febbraio fevereiro февраль февраля فبراير",
    "march märz maerz mars marzo março марта март مارس",
    "april avril abril aprile апрель апреля أبريل إبريل",
    "may mai mayo maggio maio май мая مايو",
    "june juni juin junio giugno junho июнь июня يونيو",
    "july juli juillet julio luglio julho июль июля يوليو",
    "august août aout agosto август августа أغسطس",
    "september septembre septiembre settembre setembro сентябрь сентября سبتمبر",
    "october oktober octobre octubre ottobre outubro октябрь октября أكتوبر",
    "november novembre noviembre novembro ноябрь ноября نوفمبر",
    "december dezember décembre decembre diciembre dicembre dezembro декабрь декабря ديسمبر",
)


def _month_prefixes() -> dict[str, int]:
    """Every prefix of three or more letters of a month name that names only that month."""
    owners: dict[str, set[int]] = {}
    for number, names in enumerate(_MONTH_NAMES, start=1):
        for name in names.split():
            for end in range(min(3, len(name)), len(name) + 1):
                owners.setdefault(name[:end], set()).add(number)
    return {prefix: months.pop() for prefix, months in owners.items() if len(months) == 1}


_MONTHS = _month_prefixes()
_FILLERS = frozenset(
    "de del le the of am den el года год г".split()
    + "monday tuesday wednesday thursday friday saturday sunday".split()
)
_DAY_OR_YEAR = re.compile(r"(\d{1,4})(?:st|nd|rd|th|er|e|º|°)?")
_CJK_DATE = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_date_words(text: str) -> tuple[bool, str | None]:
    """(is a date, ISO date or None) for "Jul 22", "22 July 2025", "2025年7月22日", "2025-07-22".

    Month names are known in English, German, French, Spanish, Italian, Portuguese, Russian and
    Arabic. A date without a year is recognised but has no ISO form.
    """
    text = text.strip()
    numeric = _ISO_DATE.fullmatch(text)
    if numeric:
        return _checked(int(numeric[1]), int(numeric[2]), int(numeric[3]))
    cjk = _CJK_DATE.fullmatch(text)
    if cjk:
        return _checked(int(cjk[1]) if cjk[1] else None, int(cjk[2]), int(cjk[3]))
    month = None
    numbers: list[str] = []
    for token in text.lower().replace(".", " ").replace(",", " ").split():
        number = _DAY_OR_YEAR.fullmatch(token)
        if number:
            numbers.append(number[1])
        elif token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token not in _FILLERS:
            return False, None
    years = [int(n) for n in numbers if len(n) == 4]
    days = [int(n) for n in numbers if len(n) <= 2]
    if month is None or len(days) != 1 or len(years) > 1 or len(days) + len(years) != len(numbers):
        return False, None
    return _checked(years[0] if years else None, month, days[0])


def _checked(year: int | None, month: int, day: int) -> tuple[bool, str | None]:
    if not 1 <= month <= 12 or (year is not None and not 1000 <= year <= 9999):
        return False, None
    if not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return False, None
    return True, (date(year, month, day).isoformat() if year else None)


def _iso_date(value: Any) -> str | None:
    """YYYY-MM-DD from an ISO date or timestamp string (or a written date with a year)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})(?=$|[T ])", value)
    found, iso = _checked(*map(int, match.groups())) if match else parse_date_words(value)
    return iso if found else None


# ---------------------------------------------------------------------------------------------
# Markdown

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n(?:---|\.\.\.)\n", re.S)
_ATX = re.compile(r" {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*")
_SETEXT = re.compile(r" {0,3}(=+|-+)\s*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r" {0,3}([-*_])(?:\s*\1){2,}\s*")
_REF_DEF = re.compile(r" {0,3}\[[^\]\n]{1,500}\]:\s*\S+.*")
_LINE_MARKERS = re.compile(r"\s*(?:>\s?)*(?:[-*+]\s+)?")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(?<!`)(`{1,3})(?!`)(.{1,500}?)(?<!`)\1(?!`)")
# "(url)", allowing one level of brackets inside the url, or "[reference]"
_TARGET = r"\((?:[^()\n]|\([^()\n]{0,500}\)){0,2000}\)|\[[^\]\n]{0,500}\]"
_INLINE = (
    (re.compile(rf"!\[[^\[\]\n]{{0,500}}\](?:{_TARGET})"), ""),
    (re.compile(rf"\[([^\[\]\n]{{0,500}})\](?:{_TARGET})"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^<>\s]{1,2000})>"), r"\1"),
    (re.compile(r"(\*\*|__|~~)(?=\S)(.{1,200}?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.{1,200}?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.{1,200}?)(?<=\S)_(?![\w_])"), r"\1"),
)


def _hide(text: str) -> str:
    """ASCII punctuation moved to a private-use plane so inline cleanup leaves it alone."""
    return "".join(chr(0xF0000 + ord(ch)) if "!" <= ch <= "~" else ch for ch in text)


def _markdown_inline(line: str) -> str:
    line = _ESCAPED.sub(lambda m: _hide(m[1]), line)
    line = _CODE_SPAN.sub(lambda m: _hide(m[2].strip()), line)
    for pattern, replacement in _INLINE:
        line = pattern.sub(replacement, line)
    line = re.sub(r"[ \t]{2,}", " ", line)  # gaps left by dropped images
    return re.sub("[\U000f0021-\U000f007e]", lambda m: chr(ord(m.group()) - 0xF0000), line)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match[1].split("\n"):
        key, colon, value = line.partition(":")
        if colon and key.strip().isidentifier():
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _markdown_title_line(lines: list[str]) -> tuple[int, int]:
    """(index, number of lines) of the first level-1 heading, else of the first non-empty line."""
    in_fence = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.strip():
            atx = _ATX.fullmatch(line)
            if atx and len(atx[1]) == 1:
                return i, 1
            if i + 1 < len(lines) and re.fullmatch(r" {0,3}=+\s*", lines[i + 1]):
                return i, 2
    return next(i for i, line in enumerate(lines) if line.strip()), 1


def _markdown_body(lines: list[str]) -> str:
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        marker = _FENCE.match(line)
        if fence is not None:
            closing = marker and marker[1][0] == fence[0] and len(marker[1]) >= len(fence)
            if closing and not line[marker.end() :].strip():
                fence = None
                out.append("")
            else:
                out.append(line)
        elif marker:
            fence = marker[1]
            out.append("")
        elif _RULE.fullmatch(line) or (_SETEXT.fullmatch(line) and out and out[-1].strip()):
            out.append("")
        elif _REF_DEF.fullmatch(line):
            continue
        elif heading := _ATX.fullmatch(line):
            out += ["", _markdown_inline(heading[2] or ""), ""]
        else:
            out.append(_markdown_inline(line[_LINE_MARKERS.match(line).end() :]))
    return _tidy("\n".join(out))


def _read_markdown(path: str, text: str) -> list[Article]:
    fields, text = _front_matter(text)
    lines = text.split("\n")
    if not any(line.strip() for line in lines):
        raise UnreadableFile("only front matter, no body text")
    index, count = _markdown_title_line(lines)
    heading = _ATX.fullmatch(lines[index])
    title_line = (heading[2] or "") if heading else lines[index]
    title = fields.get("title") or _one_line(_markdown_inline(title_line))
    body = _markdown_body(lines[:index] + lines[index + count :])
    if not body:
        raise UnreadableFile("only a title, no body text")
    meta = {key: fields.get(key) or None for key in ("source", "url", "lang")}
    return [Article(path, path, title, body, _iso_date(fields.get("date")), **meta)]


# ---------------------------------------------------------------------------------------------
# HTML

_DROPPED = frozenset(
    "script style nav header footer aside form noscript template head title svg iframe".split()
)
_BLOCKS = frozenset(
    "p div li h1 h2 h3 h4 h5 h6 blockquote pre tr table ul ol dl dt dd section article main "
    "figure figcaption address hr caption details summary".split()
)
_CELLS = frozenset({"td", "th", "br"})


def _html_paragraphs(root: Tag) -> list[str]:
    """Text of root, one string per block element; iterative, so any nesting depth works."""
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        paragraph = _one_line("".join(current))
        if paragraph:
            paragraphs.append(paragraph)
        current.clear()

    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            flush()
        elif isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a comment, doctype or CDATA
                current.append(str(node))
        elif isinstance(node, Tag) and node.name not in _DROPPED:
            if node.name in _CELLS:
                current.append(" ")
            if node.name in _BLOCKS:
                flush()
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    flush()
    return paragraphs


def _read_html(path: str, text: str) -> list[Article]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(text, "html.parser")
        headings = (soup.find("title"), soup.find("h1"))
        texts = (_one_line(_clean(tag.get_text())) for tag in headings if tag is not None)
        title = next((text for text in texts if text), "")
        root = soup.find("article") or soup.find("main") or soup.find("body") or soup
        paragraphs = [_clean(p) for p in _html_paragraphs(root)]
    except RecursionError as exc:
        raise UnreadableFile("HTML nested too deeply to read") from exc
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    body = _tidy("\n\n".join(paragraphs))
    if not body:
        raise UnreadableFile("no body text in the HTML")
    return [Article(path, path, title or _fallback_title(body), body)]


# ---------------------------------------------------------------------------------------------
# JSON and JSON Lines


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
            return _clean(value)
    return None


def _record_article(path: str, record: Any, article_id: str) -> Article | None:
    """The article of one JSON object, or None when it is not an object or has no text."""
    if not isinstance(record, dict):
        return None
    text = _tidy(_field(record, "text", "body", "content") or "")
    if not text:
        return None
    title = _one_line(_field(record, "title") or "") or _fallback_title(text)
    lang = _field(record, "lang")
    return Article(
        id=article_id,
        path=path,
        title=title,
        text=text,
        date=_iso_date(record.get("date")),
        source=_one_line(_field(record, "source") or "") or None,
        url=(_field(record, "url") or "").strip() or None,
        lang=lang.strip() if lang else None,
    )


def _record_id(path: str, record: Any, index: int, taken: set[str]) -> str:
    raw = record.get("id") if isinstance(record, dict) else None
    key = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    candidate = f"{path}#{key or index}"
    unique, n = candidate, 2
    while unique in taken:  # ids repeated inside one file still get distinct article ids
        unique, n = f"{candidate}~{n}", n + 1
    taken.add(unique)
    return unique


def _read_json(path: str, text: str) -> list[Article]:
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
        return [article]
    if not isinstance(value, list):
        raise UnreadableFile("the JSON must be an object or a list of objects")
    taken: set[str] = set()
    articles = [
        _record_article(path, record, _record_id(path, record, i, taken))
        for i, record in enumerate(value)
    ]
    found = [article for article in articles if article is not None]
    if not found:
        raise UnreadableFile("no object in the JSON list has a usable text, body or content field")
    return found


def _read_jsonl(path: str, text: str) -> list[Article]:
    articles: list[Article] = []
    errors: list[str] = []
    taken: set[str] = set()
    records = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip()]
    for index, (line_number, line) in enumerate(records):
        try:
            record = _parse_json(line)
        except json.JSONDecodeError as exc:
            errors.append(f"malformed JSON at line {line_number}, column {exc.colno}: {exc.msg}")
            continue
        except UnreadableFile as exc:
            errors.append(f"line {line_number}: {exc}")
            continue
        article = _record_article(path, record, _record_id(path, record, index, taken))
        if article is not None:
            articles.append(article)
    if not articles:
        raise UnreadableFile(
            errors[0] if errors else "no line holds an object with a usable text field"
        )
    return articles


_PARSERS: dict[str, Callable[[str, str], list[Article]]] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".html": _read_html,
    ".htm": _read_html,
    ".json": _read_json,
    ".jsonl": _read_jsonl,
}
