"""Typo tolerance: the index terms within a few edits of a query term, found fast.

As Meilisearch and Typesense do, a term of 5 characters or more may differ by one edit (an
insertion, deletion, substitution or swap of neighbours), one of 9 or more by two. Latin terms
are compared after :func:`fold`, which merges letters that spellings of one name trade
across languages (Selenskyj, Zelenskyy, Zelensky all fold to ``selenski``), so those differ by
no edit at all.

Near terms are found with a deletion index (the FastSS / SymSpell idea): every vocabulary term
is stored under itself and each of its one-character deletions; a query term looks up itself
and its deletions (two deep for two edits), and the few candidates that share a key are checked
with ``rapidfuzz``'s exact distance. A lookup costs some tens of dictionary probes, whatever the
vocabulary's size; scanning the vocabulary would cost a millisecond per 10,000 terms. Two
substitutions far apart in a term of 9 or more are not found (they need deletions two deep on
both sides): a bounded miss, for a memory of one key per character of the vocabulary.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import regex
from rapidfuzz.distance import OSA

ONE_EDIT_FROM = 5
TWO_EDITS_FROM = 9
# The shortest vocabulary term a 5-character query term can reach with one edit.
SHORTEST = ONE_EDIT_FROM - 1
_SPACELESS = regex.compile(
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
    if length < ONE_EDIT_FROM or term.isdigit() or _SPACELESS.search(term):
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


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _keys(word: str, depth: int) -> set[str]:
    keys = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {shorter for w in frontier for shorter in _deletions(w)}
        keys |= frontier
    return keys


@dataclass(frozen=True)
class NearTerm:
    """An index term near a query term, with the edits between them (after folding) and the
    languages whose fields hold it."""

    term: str
    edits: int
    languages: frozenset[str]


class Vocabulary:
    """The terms of an index that typo tolerance may reach, with the languages that hold each
    and a deletion index over their folded forms. Built once per commit, on the first query
    that needs it."""

    def __init__(self, terms_by_language: Mapping[str, Iterable[str]]) -> None:
        holders: dict[str, set[str]] = {}
        for language, terms in terms_by_language.items():
            for term in terms:
                holders.setdefault(term, set()).add(language)
        self._languages = {term: frozenset(codes) for term, codes in holders.items()}
        by_form: dict[str, list[str]] = {}
        for term in self._languages:
            if len(term) >= SHORTEST and not term.isdigit() and not _SPACELESS.search(term):
                by_form.setdefault(fold(term), []).append(term)
        self._forms = list(by_form)
        self._terms = [tuple(by_form[form]) for form in self._forms]
        hashes: list[int] = []
        owners: list[int] = []
        for number, form in enumerate(self._forms):
            for key in _keys(form, 1):
                hashes.append(hash(key))
                owners.append(number)
        order = np.argsort(np.array(hashes, dtype=np.int64), kind="stable")
        self._hashes = np.array(hashes, dtype=np.int64)[order]
        self._owners = np.array(owners, dtype=np.int64)[order]

    def __len__(self) -> int:
        return len(self._forms)

    def holds(self, term: str, language: str) -> bool:
        """Whether the text or title field of ``language`` holds ``term``."""
        return language in self._languages.get(term, ())

    def near(self, term: str, edits: int) -> list[NearTerm]:
        """The vocabulary's other terms within ``edits`` (at most 2) of ``term`` after
        folding, nearest first (ties by term)."""
        if not edits or not self._forms:
            return []
        form = fold(term)
        keys = _keys(form, edits)
        wanted = np.fromiter((hash(key) for key in keys), dtype=np.int64, count=len(keys))
        start = np.searchsorted(self._hashes, wanted, side="left")
        stop = np.searchsorted(self._hashes, wanted, side="right")
        hit = stop > start
        candidates: set[int] = set()
        for a, b in zip(start[hit].tolist(), stop[hit].tolist(), strict=True):
            candidates.update(self._owners[a:b].tolist())
        found: list[NearTerm] = []
        for number in candidates:
            distance = OSA.distance(form, self._forms[number], score_cutoff=edits)
            if distance <= edits:
                found.extend(NearTerm(other, distance, self._languages[other])
                             for other in self._terms[number] if other != term)
        found.sort(key=lambda near: (near.edits, near.term))
        return found

    @functools.cached_property
    def _skeletons(self) -> dict[str, list[str]]:
        """Latin terms by consonant skeleton, made when a query in or for an Arabic-script
        language first needs them."""
        by_skeleton: dict[str, list[str]] = {}
        for terms in self._terms:
            for term in terms:
                if len(bones := skeleton(term)) >= SHORTEST_SKELETON:
                    by_skeleton.setdefault(bones, []).append(term)
        return by_skeleton

    def same_skeleton(self, term: str) -> list[NearTerm]:
        """The vocabulary's other terms with the consonant skeleton of ``term`` (see
        :func:`skeleton`), counted as one edit away, by term."""
        bones = skeleton(term)
        if len(bones) < SHORTEST_SKELETON:
            return []
        return [NearTerm(other, 1, self._languages[other])
                for other in sorted(self._skeletons.get(bones, ())) if other != term]
