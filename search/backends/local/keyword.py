"""The keyword side: a Whoosh index with one text and one title field per analysis language.

Queries are plain text, never query syntax: each language field gets an OR of the query's terms as
that field's analyzer sees them, pruned to a postings budget, scored by BM25 with per-language
statistics (see :mod:`search.bm25`, which scores whole posting lists with numpy instead of
Whoosh's per-posting loop, with the same results).

Thread safety: one searcher per index, shared by all threads under a lock. Whoosh readers seek
and read shared file objects, so concurrent use of one searcher is not safe; as Whoosh search is
pure Python and holds the GIL anyway, the lock costs little throughput. Writes (add, remove,
commit) are serialized by a second lock and never block searches until the commit swaps in the
new searcher.

Integrity: each commit records the size and CRC-32 of every index file (see
:mod:`search.checksums`); :meth:`KeywordIndex.open` verifies them before Whoosh unpickles
anything, so damage is reported as IndexCorrupt instead of surfacing as a crash, a many-gigabyte
allocation or silently wrong analysis.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex
import whoosh.index
from whoosh.fields import ID, TEXT, Schema
from whoosh.query import And, Or, Query, Term, TermRange
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter, LockError

from search import analysis
from search.backends.local.bm25 import LanguageBM25F, PostingScorer, top_documents
from search.backends.local.checksums import verify_checksums, write_checksums
from search.backends.local.postings import matching
from search.errors import IndexBusy, IndexCorrupt, IndexMissing
from search.records import Candidate, Filters

TITLE_BOOST = 1.5
# Keep the rarest query terms while their document frequencies sum to at most this share of the
# language's documents (but never less than the floor, so small indexes are searched exactly):
# bounds the postings read per query, which is what sets the p95 latency, at a small cost.
POSTINGS_BUDGET = 0.75
POSTINGS_FLOOR = 2_000
MIN_TERMS = 2
# Document frequencies remembered per commit (a few MB).
DF_CACHE = 50_000
# Extra hits fetched so that ties at the cut are broken by pid rather than by Whoosh's docnum.
TIE_MARGIN = 16
_LANG_FIELD = "alang"
_SURROGATE = regex.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class KeywordDoc:
    """One paragraph as the keyword index sees it."""

    pid: int
    article_id: str
    lang: str
    title: str
    text: str
    date: str | None  # ISO YYYY-MM-DD
    source: str | None


def text_field(code: str) -> str:
    return f"text_{code}"


def title_field(code: str) -> str:
    return f"title_{code}"


def _language_field(code: str) -> TEXT:
    return TEXT(analyzer=analysis.analyzer_for(code), phrase=False)


def _schema() -> Schema:
    schema = Schema(
        pid=ID(stored=True, unique=True),
        article_id=ID,
        lang=ID,
        alang=ID,
        source=ID,
        date=ID,
    )
    for code in _all_codes():
        schema.add(text_field(code), _language_field(code))
        schema.add(title_field(code), _language_field(code))
    return schema


def _all_codes() -> list[str]:
    return sorted(analysis.LANGUAGES | {analysis.UNKNOWN})


def _clean(value: str) -> str:
    """Whoosh stores terms as UTF-8: lone surrogates would make it raise."""
    return _SURROGATE.sub("\ufffd", value)


def _within_budget(dfs: dict[str, int], budget: float, keep: int = MIN_TERMS) -> list[str]:
    """The rarest terms whose document frequencies sum to at most ``budget``, at least ``keep``."""
    kept: list[str] = []
    total = 0
    for term, df in sorted(dfs.items(), key=lambda item: (item[1], item[0])):
        total += df
        if total > budget and len(kept) >= keep:
            break
        kept.append(term)
    return kept


def _filter_query(filters: Filters | None) -> Query | None:
    if filters is None or filters.is_empty():
        return None
    parts: list[Query] = []
    for field, values in (
        ("lang", filters.languages),
        ("article_id", filters.article_ids),
        ("source", filters.sources),
    ):
        if values:
            parts.append(Or([Term(field, _clean(v)) for v in values]))
    if filters.date_from or filters.date_to:
        parts.append(TermRange("date", filters.date_from or "", filters.date_to or "\uffff"))
    return And(parts) if len(parts) > 1 else parts[0]


def _query_terms(view: _View, text: str) -> list[Term]:
    """The query's terms in every language field, as that field's analyzer sees them (to be
    ORed): per language, the rarest ones within the postings budget."""
    searcher = view.searcher
    subqueries: list[Term] = []
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
        for term in _within_budget({t: df for t, df in rarity.items() if df}, budget):
            if body_df[term]:
                subqueries.append(Term(body, term))
            if title_df[term]:
                subqueries.append(Term(title, term, boost=TITLE_BOOST))
    return subqueries


@dataclass(frozen=True)
class _View:
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
    def open(cls, index: whoosh.index.Index) -> _View:
        # A fresh reader rather than ``reuse=``: Whoosh-Reloaded's reuse fails on an empty index
        # and carries segments over from the old reader.
        reader = index.reader()
        codes = [name[5:] for name in reader.schema.names() if name.startswith("text_")]
        counts = {code: reader.doc_frequency(_LANG_FIELD, code) for code in sorted(codes)}
        docs = {code: n for code, n in counts.items() if n}
        titled = frozenset(c for c in docs if reader.field_length(title_field(c)))
        # The Whoosh weighting scores exactly like the scorer; searches do not use it, but
        # anything searching through Whoosh directly gets the same scores.
        searcher = Searcher(reader, weighting=LanguageBM25F(docs), fromindex=index)
        return cls(searcher, docs, titled, PostingScorer(searcher, docs),
                   functools.lru_cache(maxsize=DF_CACHE)(searcher.doc_frequency))


class KeywordIndex:
    """A Whoosh index of paragraphs in a folder. Use :meth:`create` or :meth:`open`."""

    def __init__(
        self, path: Path, index: whoosh.index.Index, checksums: dict[str, list[int]]
    ) -> None:
        self.path = path
        self._index = index
        self._checksums = checksums
        self._view = _View.open(index)
        self._search_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._writer: IndexWriter | None = None

    @classmethod
    def create(cls, path: Path) -> KeywordIndex:
        """A new empty index in the existing folder ``path``."""
        path = Path(path)
        if whoosh.index.exists_in(str(path)):
            raise FileExistsError(f"{path} already holds a keyword index")
        index = whoosh.index.create_in(str(path), _schema())
        return cls(path, index, write_checksums(path, {}))

    @classmethod
    def open(cls, path: Path) -> KeywordIndex:
        """Open the index in ``path``; raise IndexCorrupt if any file differs from its checksum
        or cannot be read. Costs one read of every file (CRC-32, about 1 GB/s)."""
        path = Path(path)
        if not path.is_dir() or not any(path.iterdir()):
            raise IndexMissing(f"no keyword index in {path}: run `search index` to build one")
        keyword_index = None
        # Whoosh leaves files open when it fails to read an index; they are closed (quietly)
        # when the exception is dropped, inside this block.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                checksums = verify_checksums(path)
                keyword_index = cls(path, whoosh.index.open_dir(str(path)), checksums)
                return keyword_index
            # Garbage in a Whoosh file surfaces as almost any exception type (unpickling, struct,
            # EOF, zlib, index and key errors): any failure to read it means it is damaged.
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if keyword_index is not None:
                with contextlib.suppress(Exception):
                    keyword_index.close()
            gc.collect()
        raise IndexCorrupt(
            f"the keyword index in {path} is damaged ({problem}); run `search index --rebuild`"
        )

    # Writing -------------------------------------------------------------------------------

    def _get_writer(self) -> IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(limitmb=256)
            except LockError as exc:
                raise IndexBusy(
                    f"another process is writing the keyword index in {self.path}"
                ) from exc
            # Whoosh only lets a writer add fields before its first document: an index built by an
            # older version gets the fields of languages added since then here.
            for code in _all_codes():
                if text_field(code) not in self._writer.schema:
                    self._writer.add_field(text_field(code), _language_field(code))
                    self._writer.add_field(title_field(code), _language_field(code))
        return self._writer

    def _abort(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.cancel()

    def add(self, docs: Iterable[KeywordDoc]) -> None:
        """Add paragraphs (their pids must not be in the index yet); durable after commit()."""
        with self._write_lock:
            writer = self._get_writer()
            try:
                for doc in docs:
                    self._add_one(writer, doc)
            except BaseException:
                self._abort()
                raise

    def _add_one(self, writer: IndexWriter, doc: KeywordDoc) -> None:
        code = analysis.field_language(doc.lang)
        fields = {
            "pid": str(doc.pid),
            "article_id": _clean(doc.article_id),
            "lang": _clean(doc.lang),
            _LANG_FIELD: code,
            text_field(code): doc.text,
            title_field(code): doc.title,
        }
        if doc.source:
            fields["source"] = _clean(doc.source)
        if doc.date:
            fields["date"] = _clean(doc.date[:10])
        writer.add_document(**fields)

    def remove(self, pids: Iterable[int]) -> None:
        """Delete paragraphs by pid; durable after commit()."""
        with self._write_lock:
            writer = self._get_writer()
            try:
                for pid in pids:
                    writer.delete_by_term("pid", str(pid))
            except BaseException:
                self._abort()
                raise

    def commit(self) -> None:
        """Write buffered changes to disk and let searches see them (merging small segments)."""
        with self._write_lock:
            if self._writer is None:
                return
            writer, self._writer = self._writer, None
            try:
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            self._checksums = write_checksums(self.path, self._checksums)
        view = _View.open(self._index)
        with self._search_lock:
            old, self._view = self._view, view
            old.searcher.close()

    # Reading -------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of paragraphs searchable now (committed and not removed)."""
        with self._search_lock:
            return self._view.searcher.doc_count()

    def languages(self) -> list[str]:
        """The analysis languages with at least one document in the index."""
        with self._search_lock:
            return list(self._view.docs)

    def pids(self) -> list[int]:
        """The pid of every searchable paragraph, ascending; a pid stored twice appears twice."""
        with self._search_lock:
            stored = self._view.searcher.reader().all_stored_fields()
            return sorted(int(fields["pid"]) for fields in stored)

    def search(
        self, text: str, query_lang: str | None, limit: int, filters: Filters | None = None
    ) -> list[Candidate]:
        """Paragraphs matching ``text`` (plain words, never query syntax), best first.

        Every language field in the index is searched with the query analyzed its way; a query
        with no searchable words returns []. ``query_lang`` is accepted for symmetry with the
        dense side but not used: boosting the query language's fields by 1.5 lowered nDCG@10 on
        all XQuAD-R dev paragraphs pooled from .311 to .286 (translations count as relevant).
        """
        if limit <= 0 or not text:
            return []
        with self._search_lock:
            view = self._view
            terms = _query_terms(view, _clean(text))
            if not terms:
                return []
            scores = view.scorer.scores(terms)
            candidates = np.flatnonzero(scores > 0)
            restriction = _filter_query(filters)
            if restriction is not None:
                candidates = candidates[matching(view.searcher, restriction)[candidates]]
            top = top_documents(scores, candidates, limit + TIE_MARGIN)
            hits = [
                Candidate(int(view.searcher.stored_fields(int(doc))["pid"]), float(scores[doc]))
                for doc in top
            ]
        hits.sort(key=lambda hit: (-hit.score, hit.pid))
        return hits[:limit]

    def close(self) -> None:
        """Drop uncommitted changes and release files. Closing twice is harmless."""
        with self._write_lock:
            self._abort()
        with self._search_lock:
            if not self._view.searcher.is_closed:
                self._view.searcher.close()

    def __enter__(self) -> KeywordIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
