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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import OSA

# The tolerance's rules live in search.spelling, shared with the explanation of matches.
from search.spelling import (
    SHORTEST,
    SHORTEST_SKELETON,
    SPACELESS,
    fold,
    skeleton,
)


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
            if len(term) >= SHORTEST and not term.isdigit() and not SPACELESS.search(term):
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
