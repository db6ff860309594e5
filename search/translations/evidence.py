"""What says that two paragraphs in different languages are translations of each other.

The cosine of language-centered sentence vectors carries most of it where the encoder covers
both languages; where it does not (Greek, Hindi, Vietnamese for USE), names and numbers do:
digit runs survive translation, and so do names once transliterated to ASCII. On XQuAD-R dev
the centered cosine plus 0.5 x (Jaccard of digit runs + 0.5 x Jaccard of transliterated words
of 4+ letters) took the nearest-translation rate over all language pairs from 0.74 to 0.91
(docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from anyascii import anyascii

ANCHOR_WEIGHT = 0.5  # of the lexical evidence beside the cosine
WORD_WEIGHT = 0.5  # of the transliterated words beside the digit runs
MIN_WORD_LETTERS = 4

_DIGITS = re.compile(r"\d+")
_ASCII_WORD = re.compile(rf"[a-z]{{{MIN_WORD_LETTERS},}}")


@dataclass(frozen=True)
class Anchors:
    """The parts of a paragraph that survive translation: its numbers and its words
    transliterated to ASCII."""

    digits: frozenset[str]
    words: frozenset[str]


def anchors_of(text: str) -> Anchors:
    """Digit runs (any script's digits, leading zeros dropped) and the lowercased ASCII
    transliteration's words of at least four letters."""
    digits = frozenset(str(int(run)) for run in _DIGITS.findall(text) if run.isdecimal())
    words = frozenset(_ASCII_WORD.findall(anyascii(text).lower()))
    return Anchors(digits, words)


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first or not second:
        return 0.0
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def anchor_score(first: Anchors, second: Anchors) -> float:
    """The lexical evidence of a pair, between 0 and ANCHOR_WEIGHT x (1 + WORD_WEIGHT)."""
    return ANCHOR_WEIGHT * (jaccard(first.digits, second.digits)
                            + WORD_WEIGHT * jaccard(first.words, second.words))


def pair_scores(first: np.ndarray, first_anchors: list[Anchors], second: np.ndarray,
                second_anchors: list[Anchors]) -> np.ndarray:
    """The score of every pair: centered cosine (rows are centered unit vectors) plus the
    anchor score."""
    scores = np.asarray(first, dtype=np.float32) @ np.asarray(second, dtype=np.float32).T
    for i, a in enumerate(first_anchors):
        for j, b in enumerate(second_anchors):
            scores[i, j] += anchor_score(a, b)
    return scores
