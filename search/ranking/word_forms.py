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

from collections import OrderedDict
from collections.abc import Callable

from search.analysis import AnalysedWord, word_analysis, word_terms
from search.memo import memo

# A word's own terms, its Latin forms, and its own terms under the query's analyzer (none
# when that is the same). Tuples: a word has a term or two, and a frozenset would take four
# times the memo's bytes.
Forms = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]
# The forms of a word (`surface`, `code`, `query_code`): word_forms or a WordTable.
WordForms = Callable[[str, str, str], Forms]

# A batch's table holds at most this many words' forms and as many words' terms, the oldest
# dropped first: 40 MB when full (measured), about the memo's size (1,000 names' hits hold
# 67,500 words; 300 hybrid questions' over 100,000).
TABLE_WORDS = 50_000


def _forms(terms: AnalysedWord,
           query_terms: AnalysedWord | None) -> Forms:
    """A word's forms from its terms under its language and under the query's (None when
    that is the same)."""
    typed = () if query_terms is None else tuple(t for t, latin in query_terms if not latin)
    return (tuple(t for t, latin in terms if not latin), tuple(t for t, latin in terms if latin),
            typed)


@memo
def word_forms(surface: str, code: str, query_code: str) -> Forms:
    """A paragraph word's forms, remembered in the process's memo: one lookup a word. Word
    by word rather than the text in one pass of the analyzer: the memo then fills with the
    words of the paragraphs shown, and a serving process reaches its steady size early
    (tests/web_layer/test_soak.py)."""
    # False written out: functools.cache keys word_terms(code) apart from
    # word_terms(code, False), which the highlighting reads, and the memo would hold each
    # word's terms twice.
    return _forms(word_terms(code, False)(surface),
                  None if query_code == code else word_terms(query_code, False)(surface))


class WordTable:
    """The forms of the words of a batch's hits, kept for the batch alone: each word is
    analysed once a language, outside the memo (its stems aside), and the table goes with
    the batch. At most `capacity` words' forms and as many words' terms, the oldest
    dropped first."""

    def __init__(self, capacity: int = TABLE_WORDS) -> None:
        self.capacity = capacity
        self._forms: OrderedDict[tuple[str, str, str], Forms] = OrderedDict()
        # A word's terms by language: a paragraph's words are read under its language and
        # the query's, and one language is the query's for some and the paragraph's for others.
        self._terms: OrderedDict[tuple[str, str], AnalysedWord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._forms)

    def __call__(self, surface: str, code: str, query_code: str) -> Forms:
        key = (surface, code, query_code)
        found = self._forms.get(key)
        if found is None:
            found = _forms(self._terms_of(surface, code),
                           None if query_code == code else self._terms_of(surface, query_code))
            self._keep(self._forms, key, found)
        return found

    def _terms_of(self, surface: str, code: str) -> AnalysedWord:
        key = (code, surface)
        found = self._terms.get(key)
        if found is None:
            found = word_analysis(code, False)(surface)
            self._keep(self._terms, key, found)
        return found

    def _keep(self, table: OrderedDict, key: object, value: object) -> None:
        if len(table) >= self.capacity:
            table.popitem(last=False)
        table[key] = value
