"""BM25 with per-language statistics, scored one whole posting list at a time.

:class:`LanguageBM25F` is the scoring as a Whoosh weighting model, which Whoosh calls once per
posting from pure Python: at 100,000 paragraphs that loop took most of a query's time.
:class:`PostingScorer` reads each query term's postings a block at a time into numpy arrays and
evaluates the same formula, with the same floating-point operations in the same order, so its
scores are those Whoosh would compute, bit for bit.

The arrays come from :mod:`search.backends.local.postings`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import log

import numpy as np
from whoosh.query import Term
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F, BaseScorer, BM25FScorer, WeightScorer
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from search.backends.local.postings import deleted_documents, length_bytes, term_postings

BM25_K1 = 1.2
BM25_B = 0.75
# Whoosh stores a field's length per document as one byte on a logarithmic scale and scores
# with the decoded (approximate) length.
_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


def _language_docs(docs: dict[str, int], fieldname: str) -> int:
    """Documents of the language of ``fieldname`` (``text_<code>`` or ``title_<code>``)."""
    return docs.get(fieldname.split("_", 1)[1], 0) or 1


def bm25_idf(df: int, docs: int) -> float:
    """Robertson's IDF, ``log(1 + (N - df + 0.5) / (df + 0.5))``, which never goes negative."""
    return log(1.0 + (docs - df + 0.5) / (df + 0.5))


def _idf_and_avgfl(
    searcher: Searcher, fieldname: str, btext: bytes, docs: int
) -> tuple[float, float]:
    parent = searcher.get_parent()
    df = parent.doc_frequency(fieldname, btext)
    idf = bm25_idf(df, docs)
    avgfl = parent.field_length(fieldname) / docs or 1
    return idf, avgfl


class LanguageBM25F(BM25F):
    """BM25 whose IDF and average field length count only the documents of the field's language.

    Whoosh's BM25F divides by all documents in the index, which under-weights every language but
    the largest. ``docs`` maps each language code to its document count (the documents whose
    ``alang`` term is that code; field ``text_<code>`` belongs to them). IDF is Robertson's
    ``log(1 + (N - df + 0.5) / (df + 0.5))``, which never goes negative.
    """

    def __init__(self, docs: dict[str, int], B: float = BM25_B, K1: float = BM25_K1) -> None:  # noqa: N803
        super().__init__(B=B, K1=K1)
        self.docs = docs

    def scorer(
        self, searcher: Searcher, fieldname: str, text: bytes, qf: float = 1
    ) -> BaseScorer:
        if not searcher.schema[fieldname].scorable:
            return WeightScorer.for_(searcher, fieldname, text)
        docs = _language_docs(self.docs, fieldname)
        return _LanguageScorer(searcher, fieldname, text, docs, self.B, self.K1)


class _LanguageScorer(BM25FScorer):
    def __init__(  # noqa: N803 - Whoosh's names
        self, searcher: Searcher, fieldname: str, text: bytes, docs: int, B: float, K1: float
    ) -> None:
        self.idf, self.avgfl = _idf_and_avgfl(searcher, fieldname, text, docs)
        self.B = B
        self.K1 = K1
        self.qf = 1
        self.setup(searcher, fieldname, text)


class PostingScorer:
    """Scores OR queries of terms on one open searcher, as :class:`LanguageBM25F` would.

    Field lengths are read once per field and segment, on first use, and kept as long as the
    scorer. Not thread-safe: Whoosh readers share file objects, so callers serialize searches.
    """

    def __init__(
        self, searcher: Searcher, docs: dict[str, int], B: float = BM25_B, K1: float = BM25_K1
    ) -> None:
        self.searcher = searcher
        self.docs = docs
        self.B = B
        self.K1 = K1
        self._leaves = [(leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()]
        self._lengths: dict[tuple[int, str], np.ndarray | None] = {}
        self._deleted = deleted_documents(searcher)

    def scores(self, terms: Sequence[Term]) -> np.ndarray:
        """The summed score of ``terms`` (with their boosts) for every document number, 0 where
        none matches or the document is deleted."""
        return self.scores_and_coverage(terms, {})[0]

    def scores_and_coverage(self, terms: Sequence[Term], shares: Mapping[str, float]
                            ) -> tuple[np.ndarray, np.ndarray]:
        """The scores of :meth:`scores`, and each document's coverage: the sum, over the
        distinct terms it holds in its text or title field, of its language's share (a
        language code -> weight of one term; languages missing from it add nothing)."""
        total = np.zeros(self.searcher.doc_count_all())
        holders: dict[tuple[str, str], list[np.ndarray]] = {}
        K1, B = self.K1, self.B  # noqa: N806 - the formula's names
        for term in terms:
            field = term.fieldname
            btext = self.searcher.schema[field].to_bytes(term.text)
            docs = _language_docs(self.docs, field)
            idf, avgfl = _idf_and_avgfl(self.searcher, field, btext, docs)
            for leaf, (reader, offset) in enumerate(self._leaves):
                if (field, btext) not in reader:
                    continue
                ids, tf = term_postings(reader, field, btext)
                fl = self._field_lengths(leaf, reader, field, ids)
                # whoosh.scoring.bm25, operation for operation, so the floats come out the same.
                score = idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
                if term.boost != 1.0:
                    score = score * term.boost
                # A term's postings name each document once, so fancy-index addition is safe;
                # documents accumulate their terms in query order, as Whoosh's union does.
                total[ids + offset] += score
                code = field.split("_", 1)[1]
                if code in shares:
                    holders.setdefault((code, term.text), []).append(ids + offset)
        coverage = np.zeros(len(total))
        for (code, _), found in holders.items():
            # A document in both the title's and the text's postings counts once: an index
            # repeated in a fancy-indexed `+=` is added to once (np.unique would hash them:
            # 17 ms for 200,000 ids here, 1.7 ms to sort them).
            coverage[found[0] if len(found) == 1 else np.concatenate(found)] += shares[code]
        if self._deleted is not None:
            total[self._deleted] = 0.0
            coverage[self._deleted] = 0.0
        return total, coverage

    def _field_lengths(
        self, leaf: int, reader: IndexReader, field: str, ids: np.ndarray
    ) -> np.ndarray:
        key = (leaf, field)
        if key not in self._lengths:
            self._lengths[key] = length_bytes(reader, field)
        encoded = self._lengths[key]
        if encoded is None:
            # A segment without the length column: Whoosh's scorer falls back to length 1.
            return np.ones(len(ids))
        return _BYTE_LENGTHS[encoded[ids]]


def top_documents(scores: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` highest-scoring of ``candidates`` (ascending document numbers), in no order.

    Ties at the cut go to the lower document numbers, as in Whoosh's TopCollector.
    """
    if len(candidates) <= n:
        return candidates
    chosen = scores[candidates]
    kth = np.partition(chosen, len(chosen) - n)[len(chosen) - n]
    above = candidates[chosen > kth]
    tied = candidates[chosen == kth][: n - len(above)]
    return np.concatenate([above, tied])
