"""Why a paragraph matched a query's words: which query words it holds, in which form, and
the spellings it holds them in.

The keyword side matches a query word in three forms (search.analysis and
search.backends.local.keyword_view): as typed (the same analysed term: "exchanges" finds
"Exchange"), through a Latin form of a name written in another alphabet (Зеленский and
Zelensky meet as zelenskii / zelensky, which fold to one spelling), or as a near spelling
within the typo tolerance (Zelenksy, Selenskyj). This module says which, for one paragraph,
with the same analyzers and the same tolerance, so that an explanation never claims a form
the index could not have matched.

One difference is deliberate: the keyword side looks for near spellings only of words the
index lacks entirely, which a single paragraph cannot know; here a near spelling counts only
where the word itself is not in the paragraph.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz.distance import OSA

from search.analysis import field_language, pieces, word_terms
from search.memo import memo
from search.ranking.word_forms import WordForms, word_forms
from search.spelling import SHORTEST, SHORTEST_SKELETON, fold, max_edits, skeleton
from search.transliteration import is_abjad

# Languages whose Latin forms are compared by consonant skeleton, as the keyword side does.
_ABJAD_LANGUAGES = frozenset({"ar"})


class MatchForm(StrEnum):
    """How a query word was found in a paragraph, strongest first."""

    TYPED = "typed"  # its own analysed term: the word as typed, or an inflection of it
    LATIN = "latin"  # the Latin form of a name written in another alphabet (either side)
    TYPO = "typo"  # a near spelling, within the typo tolerance


_STRENGTH = {form: rank for rank, form in enumerate(MatchForm)}


@dataclass(frozen=True)
class TermMatch:
    """A query word the paragraph holds, its strongest form there, and the spellings the
    paragraph holds it in (as written, in text order, each once)."""

    query_word: str
    form: MatchForm
    found: tuple[str, ...]


@dataclass(frozen=True)
class _Text:
    """The words of a paragraph: where each is, and the words holding each of its terms."""

    spans: list[tuple[int, int]]
    own: dict[str, list[int]]  # its own terms under the paragraph's analyzer
    latin: dict[str, list[int]]  # Latin forms of its names
    typed: dict[str, list[int]]  # its own terms under the query's analyzer, if another
    folds: dict[str, str]  # its terms folded, as near spellings are compared

    def folded(self, term: str) -> str:
        found = self.folds.get(term)
        if found is None:
            found = self.folds[term] = fold(term)
        return found

    @classmethod
    def read(cls, text: str, code: str, query_code: str, words: WordForms) -> _Text:
        found = cls([], {}, {}, {}, {})
        for surface, start, end in pieces(text):
            own, latin, typed = words(surface, code, query_code)
            if not own and not latin and not typed:
                continue
            number = len(found.spans)
            found.spans.append((start, end))
            for terms, index in ((own, found.own), (latin, found.latin), (typed, found.typed)):
                for term in terms:
                    index.setdefault(term, []).append(number)
        return found


def query_words(query: str) -> list[tuple[str, list[tuple[str, int, int]]]]:
    """The words of a query as typed, each with its tokens: a word of a script written
    without spaces is one word of several overlapping bigrams."""
    words: list[tuple[str, list[tuple[str, int, int]]]] = []
    run: list[tuple[str, int, int]] = []
    for piece in pieces(query):
        if run and piece[1] < run[-1][2]:  # overlaps the previous bigram: the same word
            run.append(piece)
            continue
        if run:
            words.append((query[run[0][1] : run[-1][2]], run))
        run = [piece]
    if run:
        words.append((query[run[0][1] : run[-1][2]], run))
    return words


def _analysed(surface: str, code: str, query: bool) -> tuple[frozenset[str], frozenset[str]]:
    """A word's own terms and its Latin forms under one language's analyzer."""
    terms = word_terms(code, query)(surface)
    return (frozenset(t for t, latin in terms if not latin),
            frozenset(t for t, latin in terms if latin))


def _near_terms(sources: Collection[str], targets: Iterable[str], edits: int,
                by_skeleton: bool, equal: bool, fold_of: Callable[[str], str]) -> set[str]:
    """The `targets` within `edits` of one of `sources` after folding (or sharing its
    consonant skeleton, `by_skeleton`), as the keyword side's vocabulary finds near terms;
    with `equal`, also those equal to one. Each source is folded once; `fold_of` folds a
    target (a text's terms are folded once for all the query's words)."""
    found: set[str] = set()
    if not sources or not (equal or edits or by_skeleton):
        return found
    folded = [_fold(a) for a in sources]
    bones = ({skeleton(a) for a in sources} if by_skeleton else set())
    bones = {b for b in bones if len(b) >= SHORTEST_SKELETON}
    for b in targets:
        if equal and b in sources:
            found.add(b)
            continue
        if len(b) < SHORTEST:
            continue
        if edits:
            folded_b = fold_of(b)
            if any(abs(len(a) - len(folded_b)) <= edits
                   and OSA.distance(a, folded_b, score_cutoff=edits) <= edits for a in folded):
                found.add(b)
                continue
        if bones and skeleton(b) in bones:
            found.add(b)
    return found


_fold = memo(fold)


@dataclass(frozen=True)
class _QueryWord:
    typed: str
    own: frozenset[str]  # its own terms, under the paragraph's and the query's analyzers
    latin: frozenset[str]  # Latin forms of it, if written in another alphabet
    edits: int  # near spellings tolerated, by the length of the word as typed
    typos: bool  # near spellings are looked for (the query's language, or a name)
    by_skeleton: bool  # Latin forms compared by consonant skeleton too (Arabic, Hebrew)

    def forms_in(self, text: _Text) -> dict[int, MatchForm]:
        """The strongest form in which this query word is found at each word of a text
        that holds it, by word number. Each distinct term of the text is judged once."""
        mine = self.latin | {t for t in self.own if t.isascii()}
        # A Latin form meets a term of the other side exactly or within the tolerance
        # (zelenskii and zelensky fold to one spelling).
        latin_met = (_near_terms(self.latin, text.own.keys() | text.latin.keys(), self.edits,
                                 self.by_skeleton, True, text.folded) if self.latin else set())
        meets_latin = (_near_terms(mine, text.latin, self.edits, self.by_skeleton, True,
                                   text.folded) if text.latin else set())
        found: dict[int, MatchForm] = {}
        for form, index, terms in (
            (MatchForm.TYPED, text.own, self.own), (MatchForm.TYPED, text.typed, self.own),
            (MatchForm.LATIN, text.own, latin_met), (MatchForm.LATIN, text.latin, latin_met),
            (MatchForm.LATIN, text.latin, meets_latin),
        ):
            for term in terms & index.keys():
                for number in index[term]:
                    found.setdefault(number, form)  # the forms come strongest first
        # Near spellings only where the word itself is not there (the costly comparisons
        # of every term of the text are made only then).
        if self.typos and MatchForm.TYPED not in found.values():
            typos = _near_terms(self.own, text.own.keys() - self.own, self.edits, False,
                                False, text.folded)
            for term in typos:
                for number in text.own[term]:
                    found.setdefault(number, MatchForm.TYPO)
        return found


def _query_word(typed: str, tokens: Sequence[tuple[str, int, int]], code: str,
                query_code: str, typos: bool) -> _QueryWord:
    own, latin = _union(_analysed(surface, code, True) for surface, _, _ in tokens)
    if query_code != code:
        own |= _union(_analysed(surface, query_code, True) for surface, _, _ in tokens)[0]
    shortest = min(own | latin, key=len, default="")
    return _QueryWord(typed, own, latin, max_edits(shortest, len(typed)),
                      typos or typed[:1].isupper() or bool(latin),
                      code in _ABJAD_LANGUAGES or is_abjad(typed))


def explain_terms(query: str, text: str, lang: str | None, query_lang: str | None = None,
                  words: WordForms | None = None) -> tuple[TermMatch, ...]:
    """For each word of `query` that the paragraph `text` (in language `lang`) holds, the
    form it is found in and the spellings found, in query order. `query_lang` is the
    query's language: its analyzer also decides what counts as typed, as in highlighting;
    near spellings are looked for in the query's language and, in others, for names only,
    as the keyword side does. `words`: a batch's table of its hits' words
    (search.ranking.word_forms); None: the process's memo."""
    code = field_language(lang)
    query_code = field_language(query_lang or lang)
    read = _Text.read(text, code, query_code, word_forms if words is None else words)
    found: list[TermMatch] = []
    for typed, tokens in query_words(query):
        word = _query_word(typed, tokens, code, query_code,
                           typos=query_lang is None or code == query_code)
        if not word.own and not word.latin:
            continue  # a stop word
        forms = word.forms_in(read)
        if forms:
            best = min(forms.values(), key=_STRENGTH.__getitem__)
            found.append(TermMatch(typed, best, _spellings(text, [read.spans[n] for n in forms])))
    return tuple(found)


def _union(parts: Iterable[tuple[frozenset[str], frozenset[str]]]
           ) -> tuple[frozenset[str], frozenset[str]]:
    own: set[str] = set()
    latin: set[str] = set()
    for a, b in parts:
        own |= a
        latin |= b
    return frozenset(own), frozenset(latin)


def _spellings(text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, ...]:
    """The distinct surfaces of `spans`, overlapping ones (bigrams) merged, in text order."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple(dict.fromkeys(text[start:end] for start, end in merged))
