"""The typo tolerance's rules: how many edits a term tolerates, and the folding that makes
spellings of one name across languages equal (see search.backends.local.fuzzy, which finds
near terms by them, and search.ranking.explain, which says which form matched)."""

from __future__ import annotations

import re

import regex

ONE_EDIT_FROM = 5
TWO_EDITS_FROM = 9
# The shortest vocabulary term a 5-character query term can reach with one edit.
SHORTEST = ONE_EDIT_FROM - 1
SPACELESS = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)
_FOLD = str.maketrans({"z": "s", "y": "i", "j": "i", "w": "v", "q": "k"})
_RUNS = re.compile(r"(.)\1+")  # the standard library's: ten times faster here than regex's
_SKELETON = str.maketrans({"v": "f", "p": "b", "a": None, "e": None, "i": None, "o": None,
                           "u": None})
# A shorter skeleton matches too many words to mean anything.
SHORTEST_SKELETON = 3


def max_edits(term: str, length: int | None = None) -> int:
    """How many edits ``term`` tolerates, by the ``length`` of the word it came from (a stem
    is shorter: house -> hous), its own length by default: none below 5 characters, for
    numbers and for bigrams of scripts written without spaces; one from 5; two from 9."""
    length = len(term) if length is None else length
    if length < ONE_EDIT_FROM or term.isdigit() or SPACELESS.search(term):
        return 0
    return 2 if length >= TWO_EDITS_FROM else 1


def fold(term: str) -> str:
    """Letters that spellings of a name trade across languages made one (z/s, y/j/i, w/v,
    q/k) and doubled letters single: ``"zelenskyy"`` -> ``"selenski"``. Other scripts pass."""
    if not term.isascii():
        return term
    return _RUNS.sub(r"\1", term.translate(_FOLD))


def skeleton(term: str) -> str:
    """The consonants of a Latin term, folded as Arabic script writes them (no p, no v, short
    vowels unwritten, long ones as w/y): ``"zelensky"`` and ``"zylynsky"`` (زيلينسكي) both give
    ``"slnsk"``, ``"peskov"`` and ``"byskwf"`` (بيسكوف) ``"bskf"``. ``""`` for other scripts."""
    if not term.isascii() or not term.isalpha():
        return ""
    return _RUNS.sub(r"\1", fold(term).translate(_SKELETON))
