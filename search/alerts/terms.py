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
engine's rule (search.ranking.matching). How each word was found is named as
search.ranking.explain names it (typed, Latin form, typo) with the paragraph's spellings; it
comes from the lookup that found it, so a batch explains its matches at no extra cost (calling
explain_terms per match cost ~4 ms each, 34 s for 4,000 matches on this machine).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from search.analysis import analyzer_for, field_language, pieces, word_terms
from search.ranking.explain import MatchForm, TermMatch
from search.spelling import fold, max_edits, skeleton
from search.transliteration import is_abjad

if TYPE_CHECKING:
    from search.backends.local.fuzzy import Vocabulary

# (entry, word) -> how a paragraph holds it, and the paragraph's words that do.
Found = dict[tuple[int, int], tuple[MatchForm, set[str]]]
# A paragraph's terms -> the words that give each, and whether it is a Latin form of them.
Terms = dict[str, tuple[set[str], bool]]
_STRENGTH = {form: rank for rank, form in enumerate(MatchForm)}


@dataclass(frozen=True)
class Entry:
    """One thing to match: an alert's query (in `lang`), or one line of its watchlist (names,
    in no language: `lang` None)."""

    alert: int  # the alert's position in the evaluated list
    text: str
    typos: bool  # watchlists forgive typos
    lang: str | None = None

    def words(self) -> list[str]:
        """Its distinct words that are no stop words in its own language."""
        terms_of = word_terms(field_language(self.lang), True)
        seen: set[str] = set()
        words: list[str] = []
        for surface, _, _ in pieces(self.text):
            terms = terms_of(surface)
            if terms and terms[0][0] not in seen:
                seen.add(terms[0][0])
                words.append(surface)
        return words


def name_like(word: str) -> bool:
    """A word that may be written the same, or transliterated, in another language's text:
    capitalised, holding a digit, or in Arabic or Hebrew script (which has no capitals)."""
    return word[:1].isupper() or any(c.isdigit() for c in word) or is_abjad(word)


@dataclass(frozen=True)
class _Posting:
    entry: int
    word: int
    latin: bool  # the term is a Latin form of the word


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
    resolved: dict[tuple[str, bool], list[tuple[_Posting, MatchForm]]] = field(
        default_factory=dict)


def index_entries(entries: Sequence[Entry], words: Sequence[list[str]], lang: str
                  ) -> LanguageIndex:
    """The inverted index of `entries` (whose `words` are given) for paragraphs in `lang`.
    A query in another language than `lang` is filed by its names only: across languages
    the keyword side sees only shared names and numbers, and analysing every word of 10,000
    alerts under every language cost most of an evaluation."""
    code = field_language(lang)
    terms_of = word_terms(code, True)
    index = LanguageIndex(list(words))
    for number, entry in enumerate(entries):
        foreign = entry.lang is not None and field_language(entry.lang) != code
        for word, surface in enumerate(words[number]):
            if foreign and not name_like(surface):
                continue
            for term, latin in terms_of(surface):
                posting = _Posting(number, word, latin)
                index.exact.setdefault(term, []).append(posting)
                if term.isascii():
                    index.folded.setdefault(fold(term), []).append(posting)
                if latin and is_abjad(surface) and len(bones := skeleton(term)) >= 3:
                    index.skeletons.setdefault(bones, []).append(posting)
                if entry.typos and (edits := max_edits(term, len(surface))):
                    index.typo_terms.setdefault(term, []).append(posting)
                    index.edits[term] = max(edits, index.edits.get(term, 0))
    if index.typo_terms:
        # Its deletion index, without the rest of the local backend (FAISS) unless needed.
        from search.backends.local.fuzzy import Vocabulary

        index.vocabulary = Vocabulary({code: index.typo_terms})
    return index


def paragraph_terms(texts: Iterable[str], lang: str) -> Terms:
    """The terms the keyword index holds for a paragraph (its text and its article's title),
    with the words that give each: each text analysed whole, as the writer analyses it (a
    third of the time of analysing it word by word)."""
    analyzer = analyzer_for(lang)
    found: Terms = {}
    for text in texts:
        for token in analyzer(text, chars=True, mode="index"):
            found.setdefault(token.text, (set(), bool(getattr(token, "transliterated", False)))
                             )[0].add(text[token.startchar : token.endchar])
    return found


def found_words(index: LanguageIndex, terms: Terms) -> Found:
    """Which entries' words a paragraph with `terms` holds, each in its strongest form (as
    search.ranking.explain names them) with the paragraph's spellings of it."""
    found: Found = {}
    for term, (spellings, latin) in terms.items():
        named = latin or any(s[:1].isupper() for s in spellings)
        for posting, form in _lookups(index, term, named):
            if form is MatchForm.TYPED and latin:
                form = MatchForm.LATIN
            key = (posting.entry, posting.word)
            old = found.get(key)
            if old is None or _STRENGTH[form] < _STRENGTH[old[0]]:
                found[key] = (form, set(spellings))
            elif old[0] is form:
                old[1].update(spellings)
    return found


def _lookups(index: LanguageIndex, term: str, named: bool) -> list[tuple[_Posting, MatchForm]]:
    """Every entry word that reaches a paragraph term and how, remembered per term (a batch
    of paragraphs repeats most of its terms). Typos are looked for only in `named` terms
    (of a capitalised word, or Latin forms): watchlists hold names."""
    known = index.resolved.get((term, named))
    if known is not None:
        return known
    ways = [(p, MatchForm.LATIN if p.latin else MatchForm.TYPED)
            for p in index.exact.get(term, ())]
    if term.isascii():
        ways += [(p, MatchForm.LATIN) for p in index.folded.get(fold(term), ())]
        if index.skeletons:
            ways += [(p, MatchForm.LATIN) for p in index.skeletons.get(skeleton(term), ())]
        if index.vocabulary is not None and len(term) >= 4 and named:
            for near in index.vocabulary.near(term, 2):
                if near.edits <= index.edits[near.term]:
                    ways += [(p, MatchForm.TYPO) for p in index.typo_terms[near.term]]
    index.resolved[(term, named)] = ways
    return ways


def explained(index: LanguageIndex, entry: int, found: Found) -> tuple[TermMatch, ...]:
    """The entry's words the paragraph holds, in the entry's order: how and as what."""
    return tuple(TermMatch(word, found[(entry, w)][0], tuple(sorted(found[(entry, w)][1])))
                 for w, word in enumerate(index.words[entry]) if (entry, w) in found)


def coverage(index: LanguageIndex, entry: int, found: Found) -> float:
    words = len(index.words[entry])
    if not words:
        return 0.0
    return sum(1 for w in range(words) if (entry, w) in found) / words
