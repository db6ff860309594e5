"""The forms of a paragraph's words that highlighting and explanations read: a word's own
terms and Latin forms under the paragraph's analyzer, and its own terms under the query's.

One query's page looks them up in the process's memo (search.memo), where the words of the
paragraphs it shows stay for the next queries. A batch brings a `WordTable` of its own: it
reads thousands of different paragraphs, whose words (three memo entries each: their forms,
their terms, their stems) filled the memo and evicted one another in a loop, the keyword
side's per-term work with them (on the 100,000-paragraph benchmark, 1,000 names explained
9,110 hits holding 67,500 distinct words).
"""

from __future__ import annotations

from collections.abc import Callable

from search.analysis import WordTerms, word_analysis, word_terms
from search.memo import memo

# A word's own terms, its Latin forms, and its own terms under the query's analyzer (none
# when that is the same). Tuples: a word has a term or two, and a frozenset would take four
# times the memo's bytes.
Forms = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
# The forms of a word (`surface`, `code`, `query_code`): word_forms or a WordTable.
WordForms = Callable[[str, str, str], Forms]

# A batch's table holds this many words (~400 bytes each), the oldest dropped first.
TABLE_WORDS = 100_000


def _forms(surface: str, code: str, query_code: str,
           terms_of: Callable[[str, bool], WordTerms]) -> Forms:
    terms = terms_of(code, False)(surface)
    typed = (() if query_code == code else
             tuple(t for t, latin in terms_of(query_code, False)(surface) if not latin))
    return (tuple(t for t, latin in terms if not latin), tuple(t for t, latin in terms if latin),
            typed)


@memo
def word_forms(surface: str, code: str, query_code: str) -> Forms:
    """A paragraph word's forms, remembered in the process's memo: one lookup a word. Word
    by word rather than the text in one pass of the analyzer: the memo then fills with the
    words of the paragraphs shown, and a serving process reaches its steady size early
    (tests/web_layer/test_soak.py)."""
    return _forms(surface, code, query_code, word_terms)


class WordTable:
    """The forms of the words of a batch's hits, kept for the batch alone: each word is
    analysed once a language, outside the memo (its stems aside), and the table goes with
    the batch. At most `capacity` words, the oldest dropped first."""

    def __init__(self, capacity: int = TABLE_WORDS) -> None:
        self.capacity = capacity
        self._forms: dict[tuple[str, str, str], Forms] = {}
        # A word's terms by language: a paragraph's words are read under its language and
        # the query's, and one language is the query's for some and the paragraph's for others.
        self._terms: dict[tuple[str, bool], dict[str, tuple[tuple[str, bool], ...]]] = {}

    def __len__(self) -> int:
        return len(self._forms)

    def __call__(self, surface: str, code: str, query_code: str) -> Forms:
        key = (surface, code, query_code)
        found = self._forms.get(key)
        if found is None:
            found = _forms(surface, code, query_code, self._terms_of)
            self._keep(self._forms, key, found)
        return found

    def _terms_of(self, code: str, query: bool) -> WordTerms:
        table = self._terms.get((code, query))
        if table is None:
            table = self._terms[code, query] = {}
        analysed = word_analysis(code, query)

        def terms_of(surface: str) -> tuple[tuple[str, bool], ...]:
            found = table.get(surface)
            if found is None:
                found = analysed(surface)
                self._keep(table, surface, found)
            return found

        return terms_of

    def _keep(self, table: dict, key: object, value: object) -> None:
        if len(table) >= self.capacity:
            del table[next(iter(table))]
        table[key] = value
