"""The near-term lookup of typo tolerance, against a brute-force reference."""

from __future__ import annotations

import random

import pytest
from rapidfuzz.distance import OSA

from search.backends.local.fuzzy import Vocabulary
from search.spelling import fold, max_edits, skeleton


@pytest.mark.parametrize(("term", "length", "edits"), [
    ("cat", None, 0), ("hous", None, 0), ("hous", 5, 1), ("house", None, 1),
    ("zelensky", None, 1), ("zelenskyy", None, 2), ("20250722", None, 0), ("北京大学", None, 0),
])
def test_max_edits_by_word_length(term: str, length: int | None, edits: int) -> None:
    assert max_edits(term, length) == edits


@pytest.mark.parametrize(("a", "b"), [
    ("zelenskyy", "selenskyj"), ("zelensky", "zelenski"), ("umjerow", "umierov"),
])
def test_spellings_of_a_name_fold_alike(a: str, b: str) -> None:
    assert fold(a) == fold(b)


@pytest.mark.parametrize(("latin", "arabic_latin"), [
    ("zelensky", "zylynsky"), ("peskov", "byskwf"), ("umerov", "mrwf"),
])
def test_arabic_latin_forms_share_the_consonant_skeleton(latin: str, arabic_latin: str) -> None:
    assert skeleton(latin) == skeleton(arabic_latin) != ""


def test_near_terms_are_found_with_their_edits_and_languages() -> None:
    vocabulary = Vocabulary({"en": ["house", "horse", "zelenski", "zelenskyy", "cat"],
                             "ru": ["zelensk", "house"]})
    near = {found.term: (found.edits, found.languages) for found in vocabulary.near("hosue", 1)}
    assert near == {"house": (1, frozenset({"en", "ru"}))}
    assert {found.term for found in vocabulary.near("selenskyj", 2)} == {
        "zelenski", "zelenskyy", "zelensk"}
    assert vocabulary.near("zelenski", 0) == []
    assert vocabulary.holds("zelensk", "ru") and not vocabulary.holds("zelensk", "en")


def test_one_edit_is_found_whatever_the_edit() -> None:
    """Against brute force over random words: every term within one edit (after folding) of
    a query is found, and nothing further."""
    rng = random.Random(7)
    words = {"".join(rng.choice("abdeghklmnoprstu") for _ in range(rng.randint(4, 9)))
             for _ in range(3000)}
    vocabulary = Vocabulary({"en": words})
    folded = {word: fold(word) for word in words}
    for query in sorted(words)[:100]:
        mutated = list(query)
        position = rng.randrange(len(mutated))
        mutated[position] = rng.choice("abdeghklmnoprstu")
        probe = "".join(mutated)
        expected = {w for w, f in folded.items()
                    if w != probe and OSA.distance(fold(probe), f, score_cutoff=1) <= 1}
        assert {found.term for found in vocabulary.near(probe, 1)} == expected
