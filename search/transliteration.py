"""Latin-script forms of words in other alphabets, so that names match across scripts.

Зеленский, Ζελένσκι and Zelensky are the same name: transliterated with ``anyascii`` they come
within one or two edits of each other (zelenskiy, zelenski), which the keyword side's typo
tolerance bridges. ``anyascii`` was chosen over ICU's ``Any-Latin; Latin-ASCII`` transform: on
33 names in Cyrillic, Greek, Arabic, Devanagari and Han the two were as close to the usual
English spelling (summed edit distance 64 vs 66), ICU better for Devanagari, anyascii for Greek;
anyascii is pure Python, 3.5 times faster (0.8 vs 2.8 us a word) and needs no ICU build.

Only alphabets whose transliteration lands near the Latin spelling are transliterated:
Cyrillic, Greek, Armenian and Georgian (names only: words written with a capital, where the
text has capitals), Arabic and Hebrew (every word, as they have no capitals; vowels are mostly
not written, so their forms come out further off). Han, kana, Hangul, Thai and the Indic
scripts come out far from the Latin spellings and are left to the dense side.

Transliterated tokens are marked (``token.transliterated``; ``token.abjad`` for Arabic and
Hebrew, whose Latin forms are compared without vowels), so queries can weigh them below exact
matches, and they sit at the position of the word they came from.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import regex
from anyascii import anyascii
from whoosh.analysis import Filter, Token
from whoosh.lang import stemmer_for_language

from search.memo import memo

_CASED = regex.compile(r"[\p{Cyrillic}\p{Greek}\p{Armenian}\p{Georgian}]")
_UNCASED = regex.compile(r"[\p{Arabic}\p{Hebrew}]")
_NOT_ALNUM = regex.compile(r"[^a-z0-9]+")
# The language whose stemmer strips a script's inflections before a query word is
# transliterated for the other languages' fields (Зеленского -> зеленск -> zelensk).
_SCRIPT_STEMMERS = ((regex.compile(r"\p{Cyrillic}"), "ru"), (regex.compile(r"\p{Arabic}"), "ar"))


def needs_latin(word: str) -> bool:
    """Whether ``word`` is written in an alphabet this module transliterates."""
    return bool(_CASED.search(word) or _UNCASED.search(word))


def is_abjad(word: str) -> bool:
    """Whether ``word`` is in a script that mostly leaves vowels unwritten (Arabic, Hebrew)."""
    return bool(_UNCASED.search(word))


@memo
def script_stem(word: str) -> str:
    """``word`` (casefolded) stemmed by its script's main language, if it has a stemmer."""
    folded = unicodedata.normalize("NFKC", word).casefold()
    for script, lang in _SCRIPT_STEMMERS:
        if script.search(folded):
            return stemmer_for_language(lang)(folded) or folded
    return folded


def looks_like_name(word: str) -> bool:
    """A word in a cased alphabet that starts with a capital, or any word of an uncased one."""
    if _UNCASED.search(word):
        return True
    return bool(_CASED.search(word)) and word[:1].isupper()


@memo
def latin(word: str) -> str:
    """The lowercase ASCII letters and digits of ``word`` transliterated (apostrophes for soft
    signs and the like dropped): ``"Зеленского"`` -> ``"zelenskogo"``; ``""`` if none."""
    folded = unicodedata.normalize("NFKC", word).casefold()
    return _NOT_ALNUM.sub("", anyascii(folded).lower())


class WordMarkFilter(Filter):
    """Remembers each token's text as written (``token.word``), before casefolding and
    stemming change it: :class:`TransliterateFilter` needs the capital and the whole word."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.word = token.text
            token.transliterated = token.abjad = False
            yield token


class TransliterateFilter(Filter):
    """After each token of a name in another alphabet, adds the Latin form of its analyzed
    term and, if it differs, of the whole word: the term's form matches inflected forms where
    the stemmer caught them (Зеленского, Зеленский -> зеленск -> zelensk), the word's form
    where it over-stemmed (Умеров -> умер, but umerov). In a query every such word counts (a
    query is often typed in lowercase); in a document only names (see :func:`looks_like_name`).
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            # Read before yielding: a later filter (the Greek cut) changes the shared token.
            text = token.text
            word = getattr(token, "word", text)
            yield token
            if word.isascii() or token.stopped or not needs_latin(word):
                continue
            query = token.mode == "query"
            if not query and not looks_like_name(word):
                continue
            # A query word comes stemmed by its own script's language instead of the field's
            # (the same in that language's field, and other stemmers leave it alone).
            sources = (word, script_stem(word)) if query else (text, word)
            token.transliterated = True
            token.abjad = is_abjad(word)
            for form in dict.fromkeys(form for source in sources if (form := latin(source))):
                token.text = form
                yield token
            token.text = text
            token.transliterated = token.abjad = False
