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

from search.backends.local.bm25 import LanguageBM25F, PostingScorer, bm25_idf
from search.backends.local.fuzzy import NearTerm, Vocabulary
from search.spelling import max_edits

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
# Latin forms of a query's words in other alphabets, and index terms a few edits from a query
# term, weigh this much of an exact match (expansions also take the rarity of their query
# term, as Lucene's fuzzy query blends them, so a rare misspelling never outranks the word).
TRANSLIT_WEIGHT = 0.5
TYPO_WEIGHT = 0.5
# At most this many near terms per query term and language, nearest and most frequent first,
# for at most this many query terms per language (the longest): each adds a posting list to
# score, which is what typo tolerance costs.
TYPO_EXPANSIONS = 2
TYPO_TERMS = 3
NEAR_CACHE = 20_000
# Languages written in scripts that leave vowels out: their Latin forms are compared by
# consonant skeleton (fuzzy.skeleton).
ABJAD_LANGUAGES = frozenset({"ar"})
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


@dataclass
class _QueryTerms:
    """A query's terms as one field's analyzer sees them."""

    weights: dict[str, float]  # 1 for words' own terms, TRANSLIT_WEIGHT for Latin forms only
    edits: dict[str, int]  # typos tolerated, by the length of the word the term came from
    abjad: set[str]  # Latin forms of words in Arabic or Hebrew script
    names: set[str]  # terms of capitalised words and Latin forms: likely names


def _query_terms_of(view: View, code: str, text: str) -> _QueryTerms:
    """The query analyzed once by the field's own (pickled) analyzer, so that it matches what
    was indexed; each term with the word it came from (as written, kept by the analysis)."""
    found = _QueryTerms({}, {}, set(), set())
    for token in view.searcher.schema[text_field(code)].analyzer(text, mode="query"):
        term, surface = token.text, getattr(token, "word", token.text)
        weight = TRANSLIT_WEIGHT if getattr(token, "transliterated", False) else 1.0
        found.weights[term] = max(weight, found.weights.get(term, 0.0))
        found.edits[term] = max(max_edits(term, len(surface)), found.edits.get(term, 0))
        if getattr(token, "abjad", False):
            found.abjad.add(term)
        if surface[:1].isupper() or weight != 1.0:
            found.names.add(term)
    return found


def _near_by_language(vocabulary: Vocabulary, term: str, edits: int, by_skeleton: bool
                      ) -> dict[str, tuple[tuple[int, str], ...]]:
    found: list[NearTerm] = vocabulary.near(term, edits)
    if by_skeleton:
        found += vocabulary.same_skeleton(term)
    by_language: dict[str, list[tuple[int, str]]] = {}
    for each in found:
        for code in each.languages:
            by_language.setdefault(code, []).append((each.edits, each.term))
    return {code: tuple(terms) for code, terms in by_language.items()}


def _expansions(view: View, code: str, term: str, edits: int, docs: int, by_skeleton: bool
                ) -> dict[str, float]:
    """Near terms in language ``code``'s text field of a ``term`` it lacks (also those of its
    consonant skeleton, ``by_skeleton``), each with its weight relative to the query term's:
    TYPO_WEIGHT times the IDF of the most frequent of them over its own IDF.

    A term the field holds is not expanded there: a word found is no typo, and expanding a
    common word (house) into another (horse) would swamp its own matches."""
    near = view.near(term, edits, by_skeleton).get(code, ())
    if not near:
        return {}
    field = text_field(code)
    present = [(found_edits, -near_df, found) for found_edits, found in near
               if (near_df := view.doc_frequency(field, found))]
    chosen = [(near, -negative_df) for _, negative_df, near in sorted(present)[:TYPO_EXPANSIONS]]
    if not chosen:
        return {}
    blended = bm25_idf(max(near_df for _, near_df in chosen), docs)
    return {near: TYPO_WEIGHT * blended / bm25_idf(near_df, docs) for near, near_df in chosen}


@dataclass(frozen=True)
class KeywordQuery:
    """A query's terms in every language field (to be ORed), and for each language the
    weight of one matched term in a document's coverage: 1 / the distinct terms that
    language's analyzer finds in the query, less those the postings budget left out (they
    occur in most documents, like stop words, and would otherwise stop long queries from
    ever covering half their terms)."""

    terms: list[Term]
    shares: dict[str, float]


def keyword_query(view: View, text: str, lang: str | None = None) -> KeywordQuery:
    """The query as the keyword side reads it: per language, as that field's analyzer sees
    them, its terms, the Latin forms of its names and the near terms of those the field lacks
    (at lower weights), the rarest ones within the postings budget. Typos are looked for in
    the query's language `lang` (all languages when None); in the others only names are,
    which is where spellings differ between languages (measured: near terms of every word
    in every language cost 30 % of the keyword side's time at 100,000 paragraphs)."""
    subqueries: list[Term] = []
    shares: dict[str, float] = {}
    for code, docs in view.docs.items():
        body, title = text_field(code), title_field(code)
        query = _query_terms_of(view, code, text)
        weights = query.weights
        holds = view.vocabulary.holds
        # The longest terms first: short ones have many near terms by chance.
        missing = sorted((t for t in weights if query.edits[t] and not holds(t, code)
                          and (lang is None or code == lang or t in query.names)),
                         key=lambda t: (-len(t), t))
        expanded = 0
        for term in missing:
            by_skeleton = code in ABJAD_LANGUAGES or term in query.abjad
            found = _expansions(view, code, term, query.edits[term], docs, by_skeleton)
            for near, share in found.items():
                weights[near] = max(weights.get(near, 0.0), weights[term] * share)
            expanded += bool(found)
            if expanded == TYPO_TERMS:
                break
        # Most terms are in no field of most languages: the vocabulary says so without a
        # lookup in Whoosh's term dictionary.
        held = [term for term in weights if holds(term, code)]
        body_df = dict.fromkeys(weights, 0) | {t: view.doc_frequency(body, t) for t in held}
        title_df = dict.fromkeys(weights, 0)
        if code in view.titled:
            title_df |= {term: view.doc_frequency(title, term) for term in held}
        rarity = {term: max(body_df[term], title_df[term]) for term in weights}
        budget = max(POSTINGS_BUDGET * docs, POSTINGS_FLOOR)
        present = {t: df for t, df in rarity.items() if df}
        kept = within_budget(present, budget)
        # Coverage counts the query's own terms (not Latin forms or near terms), less those
        # the budget left out.
        own = [t for t, weight in weights.items() if weight == 1.0]
        counted = len(own) - sum(1 for t in own if t in present and t not in kept)
        if counted:
            shares[code] = 1.0 / counted
        for term in kept:
            boost = weights[term]
            if body_df[term]:
                subqueries.append(Term(body, term, boost=boost))
            if title_df[term]:
                subqueries.append(Term(title, term, boost=TITLE_BOOST * boost))
    return KeywordQuery(subqueries, shares)


def query_terms(view: View, text: str) -> list[Term]:
    """The query's terms in every language field, to be ORed (see `keyword_query`)."""
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
        on the first search (about 0.15 s at 100,000 paragraphs)."""
        reader = self.searcher.reader()
        pids = np.zeros(reader.doc_count_all(), dtype=np.int64)
        for docnum, fields in reader.iter_docs():
            pids[docnum] = int(fields["pid"])
        return pids

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        """Every text and title term of the commit, for typo tolerance: read on the first
        query that needs it."""
        reader = self.searcher.reader()
        return Vocabulary({code: {term.decode("utf-8") for field in (text_field(code),
                                                                     title_field(code))
                                  for term in reader.lexicon(field)}
                           for code in self.docs})

    @functools.cached_property
    def near(self) -> Callable[[str, int, bool], dict[str, tuple[tuple[int, str], ...]]]:
        """The vocabulary's terms within some edits of a query term (and of its consonant
        skeleton, if asked; see fuzzy.py) by language that holds them, as (edits, term):
        found once per term and commit, as a query asks for it in every language. The cache
        holds the vocabulary, not the view: a cycle through the view would keep its segment
        files open after close until the cycle collector ran."""
        return functools.lru_cache(maxsize=NEAR_CACHE)(
            functools.partial(_near_by_language, self.vocabulary))


