"""Alert words against new paragraphs' terms, through an inverted index of the alerts.

Each alert is one or more *entries* (a query, or each line of a watchlist) of words. For a
language, every entry's words are analysed once by that language's analyzer in query mode
(as the keyword side reads a query: Latin forms of words in other alphabets added) and filed
under their terms; then each new paragraph's terms (text and title, as the keyword index
holds them: Latin forms of names added) are looked up once. A word is found:

- as typed: its analysed term is the paragraph's (so any inflection with the same stem);
- in Latin form: equal after the loose folding of Latin spellings (search.backends.local.
  spelling.fold: Zelenskyy, Selenskyj, Зеленский -> selenski), or, for a word in Arabic or
  Hebrew script, by consonant skeleton, as the keyword side compares names;
- as a typo (watchlists only): within the keyword side's edits (one from 5 letters, two from
  9), found through a deletion index over the watchlists' terms.

An entry matches a paragraph when it finds at least `min_coverage` of its distinct words, the
engine's rule (search.ranking.matching); search.ranking.explain then says, for the matches
only, in which form each word was found and how the paragraph spells it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from search.analysis import field_language, pieces, word_terms
from search.backends.local.fuzzy import Vocabulary
from search.spelling import fold, max_edits, skeleton
from search.transliteration import is_abjad

# The (entry, word) pairs a paragraph holds.
Found = set[tuple[int, int]]


@dataclass(frozen=True)
class Entry:
    """One thing to match: an alert's query, or one line of its watchlist."""

    alert: int  # the alert's position in the evaluated list
    text: str
    typos: bool  # watchlists forgive typos


@dataclass(frozen=True)
class _Posting:
    entry: int
    word: int


@dataclass
class LanguageIndex:
    """The entries' words as one language's analyzer sees them, filed by term."""

    words: list[list[str]] = field(default_factory=list)  # per entry, its distinct words
    exact: dict[str, list[_Posting]] = field(default_factory=dict)
    folded: dict[str, list[_Posting]] = field(default_factory=dict)
    skeletons: dict[str, list[_Posting]] = field(default_factory=dict)
    typo_terms: dict[str, list[_Posting]] = field(default_factory=dict)
    edits: dict[str, int] = field(default_factory=dict)
    vocabulary: Vocabulary | None = None
    resolved: dict[str, list[_Posting]] = field(default_factory=dict)


def index_entries(entries: Sequence[Entry], lang: str) -> LanguageIndex:
    """The inverted index of `entries` for paragraphs in `lang`."""
    code = field_language(lang)
    terms_of = word_terms(code, True)
    index = LanguageIndex()
    for number, entry in enumerate(entries):
        words: list[str] = []
        seen: set[str] = set()
        for surface, _, _ in pieces(entry.text):
            terms = terms_of(surface)
            if not terms or terms[0][0] in seen:
                continue
            seen.add(terms[0][0])
            word = len(words)
            words.append(surface)
            for term, latin in terms:
                posting = _Posting(number, word)
                index.exact.setdefault(term, []).append(posting)
                if term.isascii():
                    index.folded.setdefault(fold(term), []).append(posting)
                if latin and is_abjad(surface) and \
                        len(bones := skeleton(term)) >= 3:
                    index.skeletons.setdefault(bones, []).append(posting)
                if entry.typos and (edits := max_edits(term, len(surface))):
                    index.typo_terms.setdefault(term, []).append(posting)
                    index.edits[term] = max(edits, index.edits.get(term, 0))
        index.words.append(words)
    if index.typo_terms:
        index.vocabulary = Vocabulary({code: index.typo_terms})
    return index


def paragraph_terms(texts: Iterable[str], lang: str) -> set[str]:
    """The terms the keyword index holds for a paragraph (its text and its article's title)."""
    terms_of = word_terms(field_language(lang))
    return {term for text in texts for surface, _, _ in pieces(text)
            for term, _latin in terms_of(surface)}


def found_words(index: LanguageIndex, terms: Iterable[str]) -> Found:
    """Which entries' words a paragraph holding `terms` holds (search.ranking.explain says
    how, for the paragraphs that match)."""
    found: Found = set()
    for term in terms:
        found.update((p.entry, p.word) for p in _lookups(index, term))
    return found


def _lookups(index: LanguageIndex, term: str) -> list[_Posting]:
    """Every entry word that reaches a paragraph term, remembered per term (a batch of
    paragraphs repeats most of its terms)."""
    known = index.resolved.get(term)
    if known is not None:
        return known
    ways: list[_Posting] = list(index.exact.get(term, ()))
    if term.isascii():
        ways += index.folded.get(fold(term), ())
        if index.skeletons:
            ways += index.skeletons.get(skeleton(term), ())
        if index.vocabulary is not None and len(term) >= 4:
            for near in index.vocabulary.near(term, 2):
                if near.edits <= index.edits[near.term]:
                    ways += index.typo_terms[near.term]
    index.resolved[term] = ways
    return ways


def coverage(index: LanguageIndex, entry: int, found: Found) -> float:
    words = len(index.words[entry])
    if not words:
        return 0.0
    return sum(1 for w in range(words) if (entry, w) in found) / words
