"""Alert words against new paragraphs' terms, through an inverted index of the alerts.

Each alert is one or more *entries* (a query, or each line of a watchlist) of words. For a
language, every entry's words are analysed once by that language's analyzer in query mode
(as the keyword side reads a query: Latin forms of words in other alphabets added) and filed
under their terms; then each new paragraph's terms (text and title, as the keyword index
holds them: Latin forms of names added) are looked up once. A word is found:

- as typed: its analysed term is the paragraph's (so any inflection with the same stem);
- in Latin form: equal after the loose folding of Latin spellings (search.backends.local.
  fuzzy.fold: Zelenskyy, Selenskyj, Зеленский -> selenski), or, for a word in Arabic or
  Hebrew script, by consonant skeleton, as the keyword side compares names;
- as a typo (watchlists only): within the keyword side's edits (one from 5 letters, two from
  9), found through a deletion index over the watchlists' terms.

An entry matches a paragraph when it finds at least `min_coverage` of its distinct words, the
engine's rule (search.ranking.matching).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from search.alerts.records import WordForm, WordFound
from search.analysis import field_language, pieces, word_terms
from search.backends.local.fuzzy import Vocabulary, fold, max_edits, skeleton

# (entry, word) -> how it was found, by paragraph
Found = dict[tuple[int, int], WordFound]


@dataclass(frozen=True)
class Entry:
    """One thing to match: an alert's query, or one line of its watchlist."""

    alert: int  # the alert's position in the evaluated list
    text: str
    typos: bool  # watchlists forgive typos


@dataclass
class _Posting:
    entry: int
    word: int
    latin: bool  # the term is the Latin form of the word


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
    resolved: dict[str, list[tuple[list[_Posting], WordForm]]] = field(default_factory=dict)


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
                posting = _Posting(number, word, latin)
                index.exact.setdefault(term, []).append(posting)
                if term.isascii():
                    index.folded.setdefault(fold(term), []).append(posting)
                if latin and not surface.isascii() and _abjad(surface) and \
                        len(bones := skeleton(term)) >= 3:
                    index.skeletons.setdefault(bones, []).append(posting)
                if entry.typos and (edits := max_edits(term, len(surface))):
                    index.typo_terms.setdefault(term, []).append(posting)
                    index.edits[term] = max(edits, index.edits.get(term, 0))
        index.words.append(words)
    if index.typo_terms:
        index.vocabulary = Vocabulary({code: index.typo_terms})
    return index


def _abjad(word: str) -> bool:
    from search.transliteration import is_abjad

    return is_abjad(word)


def paragraph_terms(texts: Iterable[str], lang: str) -> dict[str, set[str]]:
    """The terms the keyword index holds for a paragraph (its text and its article's title),
    each with the words of the paragraph that give it."""
    terms_of = word_terms(field_language(lang))
    found: dict[str, set[str]] = {}
    for text in texts:
        for surface, _, _ in pieces(text):
            for term, _latin in terms_of(surface):
                found.setdefault(term, set()).add(surface)
    return found


def found_words(index: LanguageIndex, terms: dict[str, set[str]]) -> Found:
    """Which entries' words a paragraph with `terms` holds, and how; a word found several
    ways counts as its best (as typed, then Latin form, then typo)."""
    found: Found = {}

    def note(postings: list[_Posting], form: WordForm, spellings: set[str]) -> None:
        for p in postings:
            key = (p.entry, p.word)
            chosen = WordForm.LATIN if form is WordForm.AS_TYPED and p.latin else form
            old = found.get(key)
            if old is None or _RANK[chosen] < _RANK[old.form]:
                found[key] = WordFound(index.words[p.entry][p.word], chosen,
                                       tuple(sorted(spellings)))

    for term, spellings in terms.items():
        for postings, form in _lookups(index, term):
            note(postings, form, spellings)
    return found


def _lookups(index: LanguageIndex, term: str) -> list[tuple[list[_Posting], WordForm]]:
    """Every way the entries' words reach a paragraph term, remembered per term (a batch of
    paragraphs repeats most of its terms)."""
    known = index.resolved.get(term)
    if known is not None:
        return known
    ways: list[tuple[list[_Posting], WordForm]] = []
    if (postings := index.exact.get(term)) is not None:
        ways.append((postings, WordForm.AS_TYPED))
    if term.isascii():
        if (postings := index.folded.get(fold(term))) is not None:
            ways.append(([p for p in postings if not _same(index, p, term)], WordForm.LATIN))
        if index.skeletons and (postings := index.skeletons.get(skeleton(term))) is not None:
            ways.append((postings, WordForm.LATIN))
        if index.vocabulary is not None and len(term) >= 4:
            for near in index.vocabulary.near(term, 2):
                if near.edits <= index.edits[near.term]:
                    ways.append((index.typo_terms[near.term], WordForm.TYPO))
    index.resolved[term] = ways
    return ways


def _same(index: LanguageIndex, posting: _Posting, term: str) -> bool:
    """Whether a folded match is the exact one again (already noted as typed)."""
    return any(p is posting for p in index.exact.get(term, ()))


def coverage(index: LanguageIndex, entry: int, found: Found) -> float:
    words = len(index.words[entry])
    if not words:
        return 0.0
    return sum(1 for w in range(words) if (entry, w) in found) / words


_RANK = {WordForm.AS_TYPED: 0, WordForm.LATIN: 1, WordForm.TYPO: 2}
