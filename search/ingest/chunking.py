"""Pure paragraph splitting: an article's text becomes the chunks that get indexed.

Paragraphs are blank-line separated (or one per line when the text has no blank line). Fragments
too short to stand alone are merged with a neighbour, and paragraphs longer than `max_chars` are
split at sentence ends. Every chunk keeps its character span in the text, and the whole pass is
linear in the length of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    position: int  # 0-based order in the article
    start: int  # character offset in the article text
    end: int  # text[start:end] == chunk.text
    text: str


# Scripts written without spaces between words: Han, kana, Thai, Lao, Khmer, Myanmar.
_SPACELESS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SPACELESS += "\u0e00-\u0eff\u1780-\u17ff\u1000-\u109f"
_SPACELESS_CHAR = re.compile(f"[{_SPACELESS}]")
_SPACED_WORD = re.compile(f"[^\\W{_SPACELESS}]+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_LINE_BREAK = re.compile(r"\n\s*")
# A sentence ends after . ! ? … ؟ । ۔ (plus closing quotes) before whitespace, right after
# 。！？ whatever follows, and at a line break inside a merged span.
_SENTENCE_END = re.compile(r"[.!?…؟।۔]+[\"'”’»)\]]*(?=\s)|[。！？]+[\"'”’」』）)]*|(?=\n)")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    words: int


def count_words(text: str) -> int:
    """Words in text: runs of letters and digits, plus one per two characters of spaceless
    scripts such as Chinese, Japanese or Thai."""
    spaceless = len(_SPACELESS_CHAR.findall(text))
    return len(_SPACED_WORD.findall(text)) + (spaceless + 1) // 2


def split_paragraphs(text: str, max_chars: int = 1500, min_words: int = 6) -> list[Chunk]:
    """Split text into chunks with `text[chunk.start:chunk.end] == chunk.text`.

    Args:
        text: the article body.
        max_chars: longest chunk; longer paragraphs are split at sentence ends, and a sentence
            longer than this is cut at whitespace (or anywhere, for spaceless scripts).
        min_words: a fragment with fewer words is merged with the next one (the previous one
            when it is last), unless that would make a chunk longer than max_chars.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    separator = _BLANK_LINE if _BLANK_LINE.search(text) else _LINE_BREAK
    paragraphs = _merge_short(_pieces(text, separator), min_words, max_chars=None)
    sized = [part for span in paragraphs for part in _fit(text, span, max_chars)]
    final = _merge_short(sized, min_words, max_chars)
    return [
        Chunk(position, span.start, span.end, text[span.start : span.end])
        for position, span in enumerate(final)
    ]


def _bounds(text: str, start: int, end: int) -> tuple[int, int] | None:
    """start and end moved past surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _span(text: str, start: int, end: int) -> _Span | None:
    bounds = _bounds(text, start, end)
    return _Span(*bounds, count_words(text[bounds[0] : bounds[1]])) if bounds else None


def _pieces(text: str, separator: re.Pattern[str]) -> list[_Span]:
    spans: list[_Span] = []
    start = 0
    for match in separator.finditer(text):
        if span := _span(text, start, match.start()):
            spans.append(span)
        start = match.end()
    if span := _span(text, start, len(text)):
        spans.append(span)
    return spans


def _joined(first: _Span, second: _Span) -> _Span:
    # The gap between two spans is whitespace, so their word counts simply add up.
    return _Span(first.start, second.end, first.words + second.words)


def _merge_short(spans: list[_Span], min_words: int, max_chars: int | None) -> list[_Span]:
    """Short spans joined to the following span (the previous one for the last)."""

    def fits(first: _Span, second: _Span) -> bool:
        return max_chars is None or second.end - first.start <= max_chars

    merged: list[_Span] = []
    waiting: _Span | None = None
    for span in spans:
        if waiting is not None:
            if fits(waiting, span):
                span = _joined(waiting, span)
            else:
                merged.append(waiting)
            waiting = None
        if span.words < min_words:
            waiting = span
        else:
            merged.append(span)
    if waiting is not None:
        if merged and fits(merged[-1], waiting):
            merged[-1] = _joined(merged[-1], waiting)
        else:
            merged.append(waiting)
    return merged


def _fit(text: str, span: _Span, max_chars: int) -> list[_Span]:
    """The span itself when short enough, else its sentences packed into spans of max_chars."""
    if span.end - span.start <= max_chars:
        return [span]
    packs: list[tuple[int, int]] = []
    start = end = span.start  # the pack being built is text[start:end]
    for sentence_start, sentence_end in _sentences(text, span):
        if sentence_end - start <= max_chars:
            end = sentence_end
            continue
        if end > start:
            packs.append((start, end))
        start, end = sentence_start, sentence_end
        if end - start > max_chars:
            *cuts, (start, end) = _cut(text, start, end, max_chars)
            packs.extend(cuts)
    packs.append((start, end))
    return [_Span(a, b, count_words(text[a:b])) for a, b in packs]


def _sentences(text: str, span: _Span) -> list[tuple[int, int]]:
    """(start, end) of each sentence in the span, whitespace trimmed."""
    sentences: list[tuple[int, int]] = []
    start = span.start
    for match in _SENTENCE_END.finditer(text, span.start, span.end):
        if trimmed := _bounds(text, start, match.end()):
            sentences.append(trimmed)
        start = match.end()
    if trimmed := _bounds(text, start, span.end):
        sentences.append(trimmed)
    return sentences


def _cut(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """A sentence longer than max_chars cut at the last whitespace that fits, else anywhere."""
    parts: list[tuple[int, int]] = []
    while end - start > max_chars:
        cut = limit = start + max_chars
        while cut > start and not text[cut].isspace():
            cut -= 1
        if cut == start:  # no whitespace in reach: a spaceless script or one enormous token
            cut = limit
        if bounds := _bounds(text, start, cut):
            parts.append(bounds)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    parts.append((start, end))
    return parts
