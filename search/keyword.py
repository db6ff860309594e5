"""The keyword side: a Whoosh index with one text and one title field per analysis language.

Queries are plain text, never query syntax: each language field gets an OR of the query's terms as
that field's analyzer sees them, pruned to a postings budget, scored by BM25 with per-language
statistics (see :class:`LanguageBM25F`).

Thread safety: one searcher per index, shared by all threads under a lock. Whoosh readers seek
and read shared file objects, so concurrent use of one searcher is not safe; as Whoosh search is
pure Python and holds the GIL anyway, the lock costs little throughput. Writes (add, remove,
commit) are serialized by a second lock and never block searches until the commit swaps in the
new searcher.

Integrity: each commit records the size and CRC-32 of every index file in ``checksums.json``;
:meth:`KeywordIndex.open` verifies them before Whoosh unpickles anything, so damage is reported
as IndexCorrupt instead of surfacing as a crash, a many-gigabyte allocation or silently wrong
analysis.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from math import log
from pathlib import Path

import regex
import whoosh.index
from whoosh import collectors
from whoosh.fields import ID, TEXT, Schema
from whoosh.query import And, Or, Query, Term, TermRange
from whoosh.scoring import BM25F, BM25FScorer, WeightScorer
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter, LockError

from . import analysis
from .errors import IndexBusy, IndexCorrupt, IndexMissing
from .query import Candidate, Filters

BM25_K1 = 1.2
BM25_B = 0.75
TITLE_BOOST = 1.5
# Keep the rarest query terms while their document frequencies sum to at most this share of the
# language's documents (but never less than the floor, so small indexes are searched exactly):
# bounds the postings read per query, which is what sets the p95 latency, at a small cost.
POSTINGS_BUDGET = 0.75
POSTINGS_FLOOR = 2_000
MIN_TERMS = 2
# Extra hits fetched so that ties at the cut are broken by pid rather than by Whoosh's docnum.
TIE_MARGIN = 16
CHECKSUMS = "checksums.json"
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


class LanguageBM25F(BM25F):
    """BM25 whose IDF and average field length count only the documents of the field's language.

    Whoosh's BM25F divides by all documents in the index, which under-weights every language but
    the largest. ``docs`` maps each language code to its document count (the documents whose
    ``alang`` term is that code; field ``text_<code>`` belongs to them). IDF is Robertson's
    ``log(1 + (N - df + 0.5) / (df + 0.5))``, which never goes negative.
    """

    def __init__(self, docs: dict[str, int], B: float = 0.75, K1: float = 1.2) -> None:  # noqa: N803
        super().__init__(B=B, K1=K1)
        self.docs = docs

    def scorer(self, searcher: Searcher, fieldname: str, text: bytes, qf: float = 1):
        if not searcher.schema[fieldname].scorable:
            return WeightScorer.for_(searcher, fieldname, text)
        docs = self.docs.get(fieldname.split("_", 1)[1], 0) or 1
        return _LanguageScorer(searcher, fieldname, text, docs, self.B, self.K1)


class _LanguageScorer(BM25FScorer):
    def __init__(self, searcher, fieldname, text, docs, B, K1):  # noqa: N803 - Whoosh's names
        parent = searcher.get_parent()
        df = parent.doc_frequency(fieldname, text)
        self.idf = log(1.0 + (docs - df + 0.5) / (df + 0.5))
        self.avgfl = parent.field_length(fieldname) / docs or 1
        self.B = B
        self.K1 = K1
        self.qf = 1
        self.setup(searcher, fieldname, text)


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


def _build_query(view: _View, text: str) -> Query | None:
    """An OR over every language field of the query's terms as that field's analyzer sees them."""
    searcher = view.searcher
    subqueries: list[Query] = []
    for code, docs in view.docs.items():
        body, title = text_field(code), title_field(code)
        # The field's own (pickled) analyzer, so queries match what was indexed.
        terms = {t.text: None for t in searcher.schema[body].analyzer(text, mode="query")}
        body_df = {term: searcher.doc_frequency(body, term) for term in terms}
        title_df = dict.fromkeys(terms, 0)
        if code in view.titled:
            title_df = {term: searcher.doc_frequency(title, term) for term in terms}
        rarity = {term: max(body_df[term], title_df[term]) for term in terms}
        budget = max(POSTINGS_BUDGET * docs, POSTINGS_FLOOR)
        for term in _within_budget({t: df for t, df in rarity.items() if df}, budget):
            if body_df[term]:
                subqueries.append(Term(body, term))
            if title_df[term]:
                subqueries.append(Term(title, term, boost=TITLE_BOOST))
    if not subqueries:
        return None
    query = Or(subqueries)
    # Preload postings into arrays instead of a binary tree of union matchers: faster for
    # queries of tens of terms (Whoosh picks the tree above 5,000 documents).
    query.matcher_type = Or.ARRAY_MATCHER
    return query


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _index_files(path: Path) -> list[Path]:
    """The files Whoosh reads: everything but the write lock and our own bookkeeping."""
    return sorted(
        entry
        for entry in path.iterdir()
        if entry.is_file()
        and not entry.name.endswith(("WRITELOCK", ".tmp", ".lock"))
        and entry.name != CHECKSUMS
    )


def _write_checksums(path: Path, known: dict[str, list[int]]) -> dict[str, list[int]]:
    """Record ``[size, crc32]`` of every index file; return the record.

    Whoosh never rewrites a segment file, so a CRC in ``known`` is reused when the name and size
    match (TOC files are small and always recomputed). The record replaces the old one
    atomically: another generation may share the old file by hard link.
    """
    sums: dict[str, list[int]] = {}
    for file in _index_files(path):
        size = file.stat().st_size
        cached = known.get(file.name)
        reuse = cached is not None and cached[0] == size and not file.name.endswith(".toc")
        sums[file.name] = [size, cached[1] if reuse else _crc(file)]
    tmp = path / f"{CHECKSUMS}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"files": sums}, handle, indent=0, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path / CHECKSUMS)
    return sums


def _verify_checksums(path: Path) -> dict[str, list[int]]:
    """Check every recorded file's size and CRC before Whoosh unpickles anything from it.

    Garbage in a TOC is not just an exception: a garbled pickle memo index makes C pickle
    allocate many gigabytes, and flipped bits in a pickled stop list load without complaint.
    Raises ValueError naming the first problem.
    """
    try:
        sums = json.loads((path / CHECKSUMS).read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise ValueError(f"{CHECKSUMS} is missing") from None
    tocs = [f.name for f in _index_files(path) if f.name.endswith(".toc")]
    newest = max(tocs, key=lambda name: int(name.rsplit("_", 1)[1][:-4]), default=None)
    if newest not in sums:
        raise ValueError(f"the table of contents {newest} is not in {CHECKSUMS}")
    for name, (size, crc) in sums.items():
        file = path / name
        if not file.is_file():
            raise ValueError(f"{name} is missing")
        if file.stat().st_size != size:
            raise ValueError(f"{name} has {file.stat().st_size} bytes instead of {size}")
        if _crc(file) != crc:
            raise ValueError(f"{name} does not match its checksum")
    return sums


@dataclass(frozen=True)
class _View:
    """A searcher on one commit and the per-language counts its queries need."""

    searcher: Searcher
    docs: dict[str, int]  # language code -> documents (only languages that have some)
    titled: frozenset[str]  # languages with at least one non-empty title

    @classmethod
    def open(cls, index: whoosh.index.Index) -> _View:
        # A fresh reader rather than ``reuse=``: Whoosh-Reloaded's reuse fails on an empty index
        # and carries segments over from the old reader.
        reader = index.reader()
        codes = [name[5:] for name in reader.schema.names() if name.startswith("text_")]
        counts = {code: reader.doc_frequency(_LANG_FIELD, code) for code in sorted(codes)}
        docs = {code: n for code, n in counts.items() if n}
        titled = frozenset(c for c in docs if reader.field_length(title_field(c)))
        weighting = LanguageBM25F(docs, B=BM25_B, K1=BM25_K1)
        return cls(Searcher(reader, weighting=weighting, fromindex=index), docs, titled)


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
        return cls(path, index, _write_checksums(path, {}))

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
                checksums = _verify_checksums(path)
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
            self._checksums = _write_checksums(self.path, self._checksums)
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
            query = _build_query(view, _clean(text))
            if query is None:
                return []
            # No block-quality skipping and no matcher replacement: for OR queries of many terms
            # Whoosh re-walks the whole matcher tree each time the top-N threshold moves, which
            # at 20,000 paragraphs took more time than scoring (p95 390 -> 115 ms, same hits).
            collector: collectors.Collector = collectors.TopCollector(
                limit + TIE_MARGIN, usequality=False, replace=0
            )
            restriction = _filter_query(filters)
            if restriction is not None:
                collector = collectors.FilterCollector(collector, restriction)
            view.searcher.search_with_collector(query, collector)
            results = collector.results()
            hits = [
                Candidate(int(results.fields(i)["pid"]), float(results.score(i)))
                for i in range(results.scored_length())
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
