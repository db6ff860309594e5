"""Readers for the prose formats: plain text, Markdown and HTML.

Each reader takes a file's path (relative to seeds/) and its decoded, cleaned text, and returns
the file's one Article or raises UnreadableFile.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)

from search.errors import UnreadableFile
from search.ingest.article import Article
from search.ingest.cleanup import clean, fallback_title, one_line, tidy
from search.ingest.datelines import iso_date, take_dateline

# ---------------------------------------------------------------------------------------------
# Plain text


def read_text(path: str, text: str) -> list[Article]:
    """A title line, then the body; a news dateline opening the body becomes date and place."""
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.strip())
    title = one_line(lines[first])
    body = tidy("\n".join(lines[first + 1 :]))
    if not body:
        raise UnreadableFile("only a title line, no body text")
    opening = take_dateline(body)
    return [Article(path, path, title, opening.body, opening.date, opening.place,
                    opening.source)]


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


def _markdown_title_line(lines: list[str]) -> tuple[int, int] | None:
    """(index, number of lines) of the first level-1 heading, or None."""
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
    return None


def _markdown_body(lines: list[str]) -> str:
    out: list[str] = []
    fence: str | None = None
    for line in lines:
        marker = _FENCE.match(line)
        if fence is not None:
            closing = (marker is not None and marker[1][0] == fence[0]
                       and len(marker[1]) >= len(fence) and not line[marker.end() :].strip())
            if closing:
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
            # The markers' pattern matches at the start of every line, if only emptily.
            out.append(_markdown_inline(_LINE_MARKERS.sub("", line, count=1)))
    return tidy("\n".join(out))


def read_markdown(path: str, text: str) -> list[Article]:
    """Title from front matter, else the first level-1 heading, else the first line."""
    fields, text = _front_matter(text)
    lines = text.split("\n")
    if not any(line.strip() for line in lines):
        raise UnreadableFile("only front matter, no body text")
    found = _markdown_title_line(lines)
    if found is None and fields.get("title"):
        found = (0, 0)  # the title comes from the front matter; every line is body
    elif found is None:
        found = (next(i for i, line in enumerate(lines) if line.strip()), 1)
    index, count = found
    heading = _ATX.fullmatch(lines[index])
    title_line = (heading[2] or "") if heading else lines[index]
    title = fields.get("title") or one_line(_markdown_inline(title_line))
    body = _markdown_body(lines[:index] + lines[index + count :])
    if not body:
        raise UnreadableFile("only a title, no body text")
    opening = take_dateline(body, iso_date(fields.get("date")), fields.get("source") or None)
    return [Article(path, path, title, opening.body, opening.date, opening.place,
                    opening.source, url=fields.get("url") or None,
                    lang=fields.get("lang") or None)]


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
        paragraph = one_line("".join(current))
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


def read_html(path: str, text: str) -> list[Article]:
    """Title from <title> or <h1>; body from <article>, <main> or <body>, minus page chrome."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(text, "html.parser")
        headings = (soup.find("title"), soup.find("h1"))
        texts = (one_line(clean(tag.get_text())) for tag in headings if tag is not None)
        title = next((text for text in texts if text), "")
        root = soup.find("article") or soup.find("main") or soup.find("body") or soup
        published = _published(soup, root)
        paragraphs = [clean(p) for p in _html_paragraphs(root)]
    except RecursionError as exc:
        raise UnreadableFile("HTML nested too deeply to read") from exc
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    body = tidy("\n\n".join(paragraphs))
    if not body:
        raise UnreadableFile("no body text in the HTML")
    opening = take_dateline(body, published)
    return [Article(path, path, title or fallback_title(body), opening.body, opening.date,
                    opening.place, opening.source)]


# <meta> names and properties that carry an article's publication date, most specific first.
_DATE_META = ("article:published_time", "og:published_time", "datepublished",
              "article.published", "pubdate", "publishdate", "publish-date", "date",
              "dc.date", "dc.date.issued", "dcterms.date", "dcterms.created", "sailthru.date")


def _published(soup: BeautifulSoup, root: Any) -> str | None:
    """The publication date in an HTML page's metadata: a <meta> of _DATE_META (by name,
    property or itemprop), else the first <time datetime> of the article."""
    found: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        content = tag.get("content")
        if not isinstance(content, str):
            continue
        for attribute in ("property", "name", "itemprop"):
            key = tag.get(attribute)
            if isinstance(key, str) and key.lower() in _DATE_META:
                found.setdefault(key.lower(), content)
    for key in _DATE_META:
        iso = iso_date(found.get(key))
        if iso:
            return iso
    time_tag = root.find("time", attrs={"datetime": True}) if isinstance(root, Tag) else None
    value = time_tag.get("datetime") if time_tag is not None else None
    return iso_date(value) if isinstance(value, str) else None
