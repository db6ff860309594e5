"""Query-term highlighting: HTML-escaped paragraph text with ``<mark>`` around matching words.

A word matches when its analyzed term (see :mod:`search.analysis`) equals one of the query's,
under the paragraph's language and also under the query's, so "exchanges" marks "Exchange" and a
Chinese query marks the bigrams it shares with the text. Overlapping or touching matches (runs of
CJK bigrams) merge into one mark. Cut points are chosen in the plain text and every piece is
escaped on its own, so neither a mark nor an HTML entity can be cut in half.
"""

from __future__ import annotations

import html
import unicodedata

import regex

from search.analysis import field_language, pieces, tokens, word_analyzer
from search.ranking.word_forms import WordForms

ELLIPSIS = "\u2026"
_SURROGATE = regex.compile(r"[\ud800-\udfff]")
# How far a cut may move to land on a space rather than inside a word.
_SNAP_CHARS = 30

Span = tuple[int, int]


def match_spans(
    text: str, query: str, lang: str | None, query_lang: str | None = None,
    words: WordForms | None = None,
) -> list[Span]:
    """Character spans of ``text`` whose terms match the query's, merged, in text order.
    ``words``: a batch's table of its hits' words (search.ranking.word_forms), which its
    explanations read too; None: each word's term from the process's memo, per language."""
    code, query_code = field_language(lang), field_language(query_lang or lang)
    wanted = {c: terms for c in dict.fromkeys([code, query_code])
              if (terms := set(tokens(query, c)))}
    if not wanted:
        return []
    found: list[Span] = []
    if words is None:
        pieces_of = list(pieces(text))
        for c, terms in wanted.items():
            term_of = word_analyzer(c)
            found += [(start, end) for surface, start, end in pieces_of
                      if term_of(surface) in terms]
        return _merge(found)
    own = wanted.get(code, set())
    typed = wanted.get(query_code, set()) if query_code != code else set()
    for surface, start, end in pieces(text):
        # A word's own term comes first of its terms, before any Latin form of it.
        mine, _, as_typed = words(surface, code, query_code)
        if (mine and mine[0] in own) or (as_typed and as_typed[0] in typed):
            found.append((start, end))
    return _merge(found)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _clean(text: str) -> str:
    # Lone surrogates cannot be encoded into a page; one-for-one keeps every offset.
    return _SURROGATE.sub("\ufffd", text)


def _render(text: str, spans: list[Span], start: int, end: int) -> str:
    """Escape ``text[start:end]``, wrapping the parts of ``spans`` inside it in marks."""
    out: list[str] = []
    pos = start
    for span_start, span_end in spans:
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start >= span_end:
            continue
        out.append(html.escape(text[pos:span_start], quote=True))
        out.append(f"<mark>{html.escape(text[span_start:span_end], quote=True)}</mark>")
        pos = span_end
    out.append(html.escape(text[pos:end], quote=True))
    return "".join(out)


def highlight(text: str, query: str, lang: str | None, query_lang: str | None = None) -> str:
    """The whole of ``text``, HTML-escaped, with the words matching ``query`` in ``<mark>``."""
    text = _clean(text)
    return _render(text, match_spans(text, _clean(query), lang, query_lang), 0, len(text))


def snippet(
    text: str,
    query: str,
    lang: str | None,
    query_lang: str | None = None,
    max_chars: int = 300,
) -> str:
    """Like :func:`highlight`, cut to at most ``max_chars`` visible characters around the densest
    cluster of matches (the start of the text when nothing matches), with "…" at cut ends."""
    text = _clean(text)
    return _snippet(text, match_spans(text, _clean(query), lang, query_lang), max_chars)


def highlight_and_snippet(
    text: str, query: str, lang: str | None, query_lang: str | None = None, max_chars: int = 300,
    words: WordForms | None = None,
) -> tuple[str, str]:
    """``(highlight(...), snippet(...))`` of one text, analyzing it once instead of twice."""
    text = _clean(text)
    spans = match_spans(text, _clean(query), lang, query_lang, words)
    return _render(text, spans, 0, len(text)), _snippet(text, spans, max_chars)


def _snippet(text: str, spans: list[Span], max_chars: int) -> str:
    if len(text) <= max_chars:
        return _render(text, spans, 0, len(text))
    width = max(max_chars - 2, 1)  # room for an ellipsis at each end
    start, end = _window(text, spans, width)
    body = _render(text, spans, start, end)
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(text) else ""
    return f"{head}{body}{tail}"


def _densest(spans: list[Span], width: int) -> Span | None:
    """The stretch from the first to the last of the most matches that fit in ``width``."""
    best: tuple[int, Span] | None = None
    last = 0
    for first, (start, _) in enumerate(spans):
        last = max(last, first)
        while last + 1 < len(spans) and spans[last + 1][1] - start <= width:
            last += 1
        count = last - first + 1 if spans[last][1] - start <= width else 0
        if best is None or count > best[0]:
            best = (count, (start, spans[last][1] if count else start + width))
    return best[1] if best else None


def _window(text: str, spans: list[Span], width: int) -> Span:
    cluster = _densest(spans, width)
    if cluster is None:
        start, end = 0, width
    else:
        slack = width - (cluster[1] - cluster[0])
        start = max(0, cluster[0] - slack // 2)
        end = min(len(text), start + width)
        start = max(0, end - width)
    low = cluster[0] if cluster else 0
    high = cluster[1] if cluster else 0
    start = _snap_start(text, start, low)
    end = _snap_end(text, end, max(high, start + 1))
    # Never cut a mark: a match the window only partly holds is left out.
    for span_start, span_end in spans:
        if span_start < start < span_end and span_end <= low:
            start = span_end
        if span_start < end < span_end and span_start >= high:
            end = span_start
    return start, end


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


def _snap_start(text: str, start: int, limit: int) -> int:
    """Move ``start`` forward (not past ``limit``) to begin a word, then past spaces."""
    if start > 0 and not text[start - 1].isspace():
        space = next(
            (i for i in range(start, min(limit, start + _SNAP_CHARS)) if text[i].isspace()), None
        )
        if space is not None:
            start = space
    while start < limit and (text[start].isspace() or _is_mark(text[start])):
        start += 1
    return start


def _snap_end(text: str, end: int, limit: int) -> int:
    """Move ``end`` back (not before ``limit``) to end a word, then before spaces."""
    if end < len(text) and not text[end].isspace():
        space = next(
            (i for i in range(end - 1, max(limit, end - _SNAP_CHARS) - 1, -1) if text[i].isspace()),
            None,
        )
        if space is not None:
            end = space
    while end > limit and end < len(text) and _is_mark(text[end]):
        end -= 1
    while end > limit and text[end - 1].isspace():
        end -= 1
    return end
