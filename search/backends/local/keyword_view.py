"""A searcher on one commit of the keyword index, and how a query becomes its terms.

Queries are plain text, never query syntax: each language field gets the query's terms as
that field's analyzer sees them, pruned to a postings budget (the rarest terms first), to be
scored by BM25 with per-language statistics (search.backends.local.bm25).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import regex
import whoosh.index
from whoosh.query import Term
from whoosh.searching import Searcher

from search.backends.local.bm25 import LanguageBM25F, PostingScorer

TITLE_BOOST = 1.5
# Keep the rarest query terms while their document frequencies sum to at most this share of the
# language's documents (but never less than the floor, so small indexes are searched exactly):
# bounds the postings read per query, which is what sets the p95 latency, at a small cost.
POSTINGS_BUDGET = 0.75
POSTINGS_FLOOR = 2_000
MIN_TERMS = 2
# Document frequencies remembered per commit (a few MB).
DF_CACHE = 50_000
LANG_FIELD = "alang"
_SURROGATE = regex.compile(r"[\ud800-\udfff]")


def text_field(code: str) -> str:
    return f"text_{code}"


def title_field(code: str) -> str:
    return f"title_{code}"


def clean(value: str) -> str:
    """Whoosh stores terms as UTF-8: lone surrogates would make it raise."""
    return _SURROGATE.sub("\ufffd", value)


def within_budget(dfs: dict[str, int], budget: float, keep: int = MIN_TERMS) -> list[str]:
    """The rarest terms whose document frequencies sum to at most ``budget``, at least ``keep``."""
    kept: list[str] = []
    total = 0
    for term, df in sorted(dfs.items(), key=lambda item: (item[1], item[0])):
        total += df
        if total > budget and len(kept) >= keep:
            break
        kept.append(term)
    return kept


@dataclass(frozen=True)
class KeywordQuery:
    """A query's terms in every language field (to be ORed), and for each language the
    weight of one matched term in a document's coverage: 1 / the distinct terms that
    language's analyzer finds in the query, less those the postings budget left out (they
    occur in most documents, like stop words, and would otherwise stop long queries from
    ever covering half their terms)."""

    terms: list[Term]
    shares: dict[str, float]


def keyword_query(view: View, text: str) -> KeywordQuery:
    """The query as the keyword side reads it: per language, the rarest terms within the
    postings budget, as that field's analyzer sees them."""
    searcher = view.searcher
    subqueries: list[Term] = []
    shares: dict[str, float] = {}
    for code, docs in view.docs.items():
        body, title = text_field(code), title_field(code)
        # The field's own (pickled) analyzer, so queries match what was indexed.
        terms = {t.text: None for t in searcher.schema[body].analyzer(text, mode="query")}
        body_df = {term: view.doc_frequency(body, term) for term in terms}
        title_df = dict.fromkeys(terms, 0)
        if code in view.titled:
            title_df = {term: view.doc_frequency(title, term) for term in terms}
        rarity = {term: max(body_df[term], title_df[term]) for term in terms}
        budget = max(POSTINGS_BUDGET * docs, POSTINGS_FLOOR)
        present = {t: df for t, df in rarity.items() if df}
        kept = within_budget(present, budget)
        counted = len(terms) - (len(present) - len(kept))
        if counted:
            shares[code] = 1.0 / counted
        for term in kept:
            if body_df[term]:
                subqueries.append(Term(body, term))
            if title_df[term]:
                subqueries.append(Term(title, term, boost=TITLE_BOOST))
    return KeywordQuery(subqueries, shares)


def query_terms(view: View, text: str) -> list[Term]:
    """The query's terms in every language field, as that field's analyzer sees them (to be
    ORed): per language, the rarest ones within the postings budget."""
    return keyword_query(view, text).terms


@dataclass(frozen=True)
class View:
    """A searcher on one commit, the per-language counts its queries need and its scorer."""

    searcher: Searcher
    docs: dict[str, int]  # language code -> documents (only languages that have some)
    titled: frozenset[str]  # languages with at least one non-empty title
    scorer: PostingScorer
    # (field, term) -> documents holding it. A commit never changes, and a query looks up
    # every term in every language's fields (some 350 lookups, half the keyword side's time
    # at 100k paragraphs), most of them function words that recur from query to query.
    doc_frequency: Callable[[str, str], int]

    @classmethod
    def open(cls, index: whoosh.index.Index) -> View:
        # A fresh reader rather than ``reuse=``: Whoosh-Reloaded's reuse fails on an empty index
        # and carries segments over from the old reader.
        reader = index.reader()
        codes = [name[5:] for name in reader.schema.names() if name.startswith("text_")]
        counts = {code: reader.doc_frequency(LANG_FIELD, code) for code in sorted(codes)}
        docs = {code: n for code, n in counts.items() if n}
        titled = frozenset(c for c in docs if reader.field_length(title_field(c)))
        # The Whoosh weighting scores exactly like the scorer; searches do not use it, but
        # anything searching through Whoosh directly gets the same scores.
        searcher = Searcher(reader, weighting=LanguageBM25F(docs), fromindex=index)
        return cls(searcher, docs, titled, PostingScorer(searcher, docs),
                   functools.lru_cache(maxsize=DF_CACHE)(searcher.doc_frequency))

    @functools.cached_property
    def doc_pids(self) -> np.ndarray:
        """The pid of each document number (0 for deleted ones), read once per commit and
        only by a filtered search (about 0.15 s at 100,000 paragraphs)."""
        reader = self.searcher.reader()
        pids = np.zeros(reader.doc_count_all(), dtype=np.int64)
        for docnum, fields in reader.iter_docs():
            pids[docnum] = int(fields["pid"])
        return pids


