"""Alert words against new paragraphs' terms, through an inverted index of the alerts.

Each alert is one or more *entries* (a query, or each line of a watchlist) of words. For a
language, every entry's words are analysed once by that language's analyzer in query mode
(as the keyword side reads a query: Latin forms of words in other alphabets added) and filed
under their terms; then each new paragraph's terms (text and title, as the keyword index
holds them: Latin forms of names added) are looked up once. A word is found:

- as typed: its analysed term is the paragraph's (so any inflection with the same stem);
- in Latin form: equal after the loose folding of Latin spellings (search.spelling.fold:
  Zelenskyy, Selenskyj, Зеленский -> selenski), or, for a word in Arabic or
  Hebrew script, by consonant skeleton, as the keyword side compares names;
- as a typo (watchlists only): within the keyword side's edits (one from 5 letters, two from
  9), found through a deletion index over the watchlists' terms.

An entry matches a paragraph when it finds at least `min_coverage` of its distinct words, the
engine's rule (search.ranking.matching). How each word was found is named as
search.ranking.explain names it (typed, Latin form, typo) with the paragraph's spellings; it
comes from the lookup that found it, so a batch explains its matches at no extra cost (calling
explain_terms per match cost ~4 ms each, 34 s for 4,000 matches on this machine).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from search.alerts.arrays import sorted_runs, within
from search.analysis import AnalysedWord, field_language, pieces, word_analysis, word_terms
from search.ranking.explain import MatchForm, TermMatch
from search.spelling import fold, max_edits, skeleton
from search.transliteration import is_abjad

if TYPE_CHECKING:
    from search.backends.local.fuzzy import Vocabulary

# A paragraph's terms -> the words that give each, and whether it is a Latin form of them.
Terms = dict[str, tuple[set[str], bool]]
_RANK = {form: rank for rank, form in enumerate(MatchForm)}
_FORMS = list(MatchForm)
_WORD_BITS = 16  # an entry word's key: entry << _WORD_BITS | word


@dataclass(frozen=True)
class Entry:
    """One thing to match: an alert's query (in `lang`), or one line of its watchlist (names,
    in no language: `lang` None)."""

    alert: int  # the alert's position in the evaluated list
    text: str
    typos: bool  # watchlists forgive typos
    lang: str | None = None

    def words(self, analysed: WordTerms) -> list[str]:
        """Its distinct words that are no stop words in its own language."""
        code = field_language(self.lang)
        seen: set[str] = set()
        words: list[str] = []
        for surface, _, _ in pieces(self.text):
            terms = analysed.terms(code, surface)
            if terms and terms[0][0] not in seen:
                seen.add(terms[0][0])
                words.append(surface)
        return words[: 1 << _WORD_BITS]


def name_like(word: str) -> bool:
    """A word that may be written the same, or transliterated, in another language's text:
    capitalised, holding a digit, or in Arabic or Hebrew script (which has no capitals)."""
    return word[:1].isupper() or any(c.isdigit() for c in word) or is_abjad(word)


@dataclass
class Spellings:
    """Terms' loose forms (search.spelling's fold and skeleton), each made once an
    evaluation: names are filed in every language's index, paragraphs' terms recur."""

    folds: dict[str, str] = field(default_factory=dict)
    skeletons: dict[str, str] = field(default_factory=dict)

    def fold(self, term: str) -> str:
        found = self.folds.get(term)
        if found is None:
            found = self.folds[term] = fold(term)
        return found

    def skeleton(self, term: str) -> str:
        found = self.skeletons.get(term)
        if found is None:
            found = self.skeletons[term] = skeleton(term)
        return found


# Entry words filed together: one word, the analyzer code it is looked for under (None: every
# language's, as names are), and whether its entries forgive typos.
WordGroup = tuple[str, str | None, bool]


@dataclass(frozen=True)
class EntryWords:
    """Every entry's distinct words, and the entry words (keys) each distinct word is, filed
    by where it is looked for: a name (name_like) or a watchlist's word in every language,
    any other word in its query's language only (across languages the keyword side sees
    only shared names and numbers)."""

    words: list[list[str]]
    groups: dict[str | None, list[tuple[str, bool, np.ndarray]]]
    spellings: Spellings = field(default_factory=Spellings)

    @classmethod
    def of(cls, entries: Sequence[Entry], analysed: WordTerms) -> EntryWords:
        known: dict[tuple[str, str | None], list[str]] = {}  # alerts often share a text
        words = []
        keys: dict[WordGroup, list[int]] = {}
        for number, entry in enumerate(entries):
            if (entry.text, entry.lang) not in known:
                known[(entry.text, entry.lang)] = entry.words(analysed)
            words.append(known[(entry.text, entry.lang)])
            code = field_language(entry.lang) if entry.lang is not None else None
            for word, surface in enumerate(words[-1]):
                where = None if code is None or name_like(surface) else code
                keys.setdefault((surface, where, entry.typos), []).append(
                    number << _WORD_BITS | word)
        groups: dict[str | None, list[tuple[str, bool, np.ndarray]]] = {}
        for (surface, where, typos), group in keys.items():
            groups.setdefault(where, []).append(
                (surface, typos, np.array(group, dtype=np.int64)))
        return cls(words, groups)


@dataclass(frozen=True)
class _Ways:
    """The entry words one paragraph term reaches: their keys and the form's rank."""

    keys: np.ndarray  # int64
    ranks: np.ndarray  # int8


_NONE = _Ways(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8))


# Words in several scripts whose terms change when an analyzer's rules change.
_PROBE = ("Zelensky", "Зеленского", "Ζελένσκι", "زيلينسكي", "negotiations", "2024")


@dataclass
class WordTerms:
    """Words' terms as each language's analyzer reads a query (code -> word -> terms): those
    kept in the alert store, and those analysed since it was read (`added`, to keep). Words
    of 10,000 alerts analysed anew under every language took most of an evaluation."""

    known: dict[str, dict[str, AnalysedWord]] = field(default_factory=dict)
    added: dict[str, dict[str, AnalysedWord]] = field(default_factory=dict)

    def terms(self, code: str, word: str) -> AnalysedWord:
        terms = self.known.get(code, {}).get(word)
        if terms is None:
            terms = self.known.setdefault(code, {})[word] = word_terms(code, True)(word)
            self.added.setdefault(code, {})[word] = terms
        return terms


def analysis_mark(code: str) -> str:
    """What the analyzer of `code` makes of a few probe words: kept words' terms are
    trusted only while it is unchanged (an upgrade may change an analyzer)."""
    terms_of = word_terms(code, True)
    return "|".join(",".join(term for term, _ in terms_of(word)) for word in _PROBE)


@dataclass
class LanguageIndex:
    """The entries' words as one language's analyzer sees them, filed by term (the postings
    are arrays of entry word keys; exact ones with whether the term is a Latin form)."""

    code: str  # the analyzer's
    sizes: np.ndarray  # per entry, its number of distinct words
    words: list[list[str]]
    spellings: Spellings
    exact: dict[str, list[tuple[np.ndarray, bool]]] = field(default_factory=dict)
    folded: dict[str, list[np.ndarray]] = field(default_factory=dict)
    skeletons: dict[str, list[np.ndarray]] = field(default_factory=dict)
    typo_terms: dict[str, list[np.ndarray]] = field(default_factory=dict)
    edits: dict[str, int] = field(default_factory=dict)
    vocabulary: Vocabulary | None = None
    resolved: dict[tuple[str, bool], _Ways] = field(default_factory=dict)


def index_entries(prepared: EntryWords, lang: str, words: WordTerms) -> LanguageIndex:
    """The inverted index of the entries for paragraphs in `lang`: each distinct word
    analysed once (`words` keeps them) and filed with all the entry words it is."""
    code = field_language(lang)
    index = LanguageIndex(code, np.array([len(ws) for ws in prepared.words], dtype=np.int64),
                          prepared.words, prepared.spellings)
    spellings = prepared.spellings
    for surface, typos, keys in [*prepared.groups.get(None, ()), *prepared.groups.get(code, ())]:
        for term, latin in words.terms(code, surface):
            index.exact.setdefault(term, []).append((keys, latin))
            if term.isascii():
                index.folded.setdefault(spellings.fold(term), []).append(keys)
            if latin and is_abjad(surface) and len(bones := spellings.skeleton(term)) >= 3:
                index.skeletons.setdefault(bones, []).append(keys)
            if typos and (edits := max_edits(term, len(surface))):
                index.typo_terms.setdefault(term, []).append(keys)
                index.edits[term] = max(edits, index.edits.get(term, 0))
    return index


def share_typos(indexes: Sequence[LanguageIndex]) -> None:
    """One deletion index over the watchlists' terms of every language, for typos."""
    if any(index.typo_terms for index in indexes):
        # Without the rest of the local backend (FAISS) unless needed.
        from search.backends.local.fuzzy import Vocabulary

        vocabulary = Vocabulary({index.code: index.typo_terms for index in indexes})
        for index in indexes:
            index.vocabulary = vocabulary


def paragraph_terms(texts: Iterable[str], lang: str, analysed: dict[str, AnalysedWord]
                    ) -> Terms:
    """The terms the keyword index holds for a paragraph (its text and its article's title),
    with the words that give each. Each word is analysed once an evaluation (`analysed`:
    those of the language's paragraphs so far): every filter of an analyzer works on one
    token at a time, so a word alone gives what it gives in its text (tests/test_analysis.py)."""
    terms_of = word_analysis(field_language(lang), False)
    found: Terms = {}
    for text in texts:
        for surface, _, _ in pieces(text):
            terms = analysed.get(surface)
            if terms is None:
                terms = analysed[surface] = terms_of(surface)
            for term, latin in terms:
                found.setdefault(term, (set(), latin))[0].add(surface)
    return found


# (paragraph's number, entry) -> the entry's coverage there and its words found.
Found = dict[tuple[int, int], tuple[float, tuple[TermMatch, ...]]]


def entries_found(index: LanguageIndex, paragraphs: Sequence[Terms], min_coverage: float
                  ) -> Found:
    """The entries each paragraph (by its terms) matches, holding at least `min_coverage`
    of their words: each one's coverage and its words found, in the entry's order, each in
    its strongest form (as search.ranking.explain names them) with the paragraph's
    spellings. All paragraphs are counted at once: a key (paragraph, entry, word) per way a
    paragraph's term reaches an entry word."""
    reached: list[tuple[int, tuple[set[str], bool], _Ways]] = []
    for number, terms in enumerate(paragraphs):
        for term, spelled in terms.items():
            spellings, latin = spelled
            ways = _lookups(index, term, latin or any(s[:1].isupper() for s in spellings))
            if len(ways.keys):
                reached.append((number, spelled, ways))
    if not reached:
        return {}
    sizes = [len(ways.keys) for _, _, ways in reached]
    key = np.concatenate([ways.keys for _, _, ways in reached])
    rank = np.concatenate([ways.ranks for _, _, ways in reached])
    # A word found through a Latin form of the paragraph's is found in Latin form.
    latin_form = np.repeat(np.array([spelled[1] for _, spelled, _ in reached]), sizes)
    rank[latin_form] = np.maximum(rank[latin_form], _RANK[MatchForm.LATIN])
    width = _WORD_BITS + len(index.sizes).bit_length()  # a key: entry, then word
    key |= np.repeat(np.array([number for number, _, _ in reached], dtype=np.int64),
                     sizes) << width
    pairs, counts = sorted_runs(sorted_runs(np.sort(key))[0] >> _WORD_BITS)
    entry_mask = (1 << (width - _WORD_BITS)) - 1
    passing = pairs[counts / index.sizes[pairs & entry_mask] >= min_coverage]
    if not len(passing):
        return {}
    chosen = np.flatnonzero(within(key >> _WORD_BITS, passing))
    owner = np.repeat(np.arange(len(reached), dtype=np.int64), sizes)[chosen]
    best: dict[int, tuple[int, set[str]]] = {}  # key -> its best rank, with the spellings
    for k, r, t in zip(key[chosen].tolist(), rank[chosen].tolist(), owner.tolist(),
                       strict=True):
        old = best.get(k)
        if old is None or r < old[0]:
            best[k] = (r, set(reached[t][1][0]))
        elif r == old[0]:
            old[1].update(reached[t][1][0])
    words: dict[tuple[int, int], list[TermMatch]] = {}
    word_mask = (1 << _WORD_BITS) - 1
    made: dict[tuple[str, int, tuple[str, ...]], TermMatch] = {}  # most recur: made once
    for k in sorted(best):
        r, spellings = best[k]
        entry, word = (k >> _WORD_BITS) & entry_mask, k & word_mask
        what = (index.words[entry][word], r, tuple(sorted(spellings)))
        found = made.get(what)
        if found is None:
            found = made[what] = TermMatch(what[0], _FORMS[r], what[2])
        words.setdefault((k >> width, entry), []).append(found)
    return {(number, entry): (round(len(found) / len(index.words[entry]), 4), tuple(found))
            for (number, entry), found in words.items()}


def _lookups(index: LanguageIndex, term: str, named: bool) -> _Ways:
    """Every entry word that reaches a paragraph term and how, remembered per term (a batch
    of paragraphs repeats most of its terms). Typos are looked for only in `named` terms
    (of a capitalised word, or Latin forms): watchlists hold names."""
    known = index.resolved.get((term, named))
    if known is not None:
        return known
    found = [(keys, MatchForm.LATIN if latin else MatchForm.TYPED)
             for keys, latin in index.exact.get(term, ())]
    if term.isascii():
        found += [(keys, MatchForm.LATIN)
                  for keys in index.folded.get(index.spellings.fold(term), ())]
        if index.skeletons:
            found += [(keys, MatchForm.LATIN)
                      for keys in index.skeletons.get(index.spellings.skeleton(term), ())]
        if index.typo_terms and index.vocabulary is not None and len(term) >= 4 and named:
            for near in index.vocabulary.near(term, 2):
                if index.code in near.languages and near.edits <= index.edits[near.term]:
                    found += [(keys, MatchForm.TYPO) for keys in index.typo_terms[near.term]]
    ways = _Ways(np.concatenate([keys for keys, _ in found]), np.concatenate(
        [np.full(len(keys), _RANK[form], dtype=np.int8) for keys, form in found])
    ) if found else _NONE
    index.resolved[(term, named)] = ways
    return ways
