"""Text cleanup shared by every reader of seeds/.

Every text that leaves a reader has Unix newlines, no control characters other than newline
and tab, stripped paragraphs, and exactly one blank line between paragraphs.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NEWLINES = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u0085": "\n", "\u2029": "\n\n"}
_NEWLINE = re.compile("|".join(map(re.escape, _NEWLINES)))


def clean(text: str) -> str:
    """Unix newlines; control characters other than newline and tab removed; lone surrogates
    replaced (see replace_surrogates)."""
    return _CONTROL.sub("", _NEWLINE.sub(lambda m: _NEWLINES[m.group()], replace_surrogates(text)))


def replace_surrogates(text: str) -> str:
    """U+FFFD for each lone surrogate (a JSON escape like \\ud800, or an undecodable byte in a
    file name): they cannot be written as UTF-8, so one of them failed the whole index run."""
    return _SURROGATE.sub("\ufffd", text)


def tidy(text: str) -> str:
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


def one_line(text: str) -> str:
    return " ".join(text.split())


def fallback_title(text: str, limit: int = 80) -> str:
    """A title made from the first line of the text, for inputs that have none."""
    first = one_line(text.split("\n", 1)[0])
    if len(first) <= limit:
        return first
    cut = first.rfind(" ", 0, limit)
    return first[: cut if cut > 0 else limit].rstrip() + "…"
