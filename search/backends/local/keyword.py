"""The keyword side: a Whoosh index with one text and one title field per analysis language.

Queries are plain text, never query syntax (see keyword_view.py); whole posting lists are
scored by BM25 with per-language statistics in numpy (bm25.py), with the results Whoosh's own
per-posting loop gives.

Thread safety: one searcher per index, shared by all threads under a lock. Whoosh readers seek
and read shared file objects, so concurrent use of one searcher is not safe; as Whoosh search is
pure Python and holds the GIL anyway, the lock costs little throughput. Writes (add, remove,
commit) are serialized by a second lock and never block searches until the commit swaps in the
new searcher.

Integrity: each commit records the size and CRC-32 of every index file (checksums.py);
:meth:`KeywordIndex.open` verifies them before Whoosh unpickles anything, so damage is
reported as IndexCorrupt instead of surfacing as a crash, a many-gigabyte allocation or
silently wrong analysis.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import whoosh.index
from whoosh.fields import ID, TEXT, Schema
from whoosh.writing import IndexWriter, SegmentWriter

from search import analysis
from search.backends.local.bm25 import top_documents
from search.backends.local.checksums import verify_checksums, write_checksums
from search.backends.local.keyword_view import (
    LANG_FIELD,
    View,
    clean,
    keyword_query,
    text_field,
    title_field,
)
from search.errors import IndexBusy, IndexCorrupt, IndexMissing
from search.records import Candidate

# Extra hits fetched so that ties at the cut are broken by pid rather than by Whoosh's docnum.
TIE_MARGIN = 16


@dataclass(frozen=True)
class KeywordDoc:
    """One paragraph as the keyword index sees it (filters are applied by the reader)."""

    pid: int
    lang: str
    title: str
    text: str


def _language_field(code: str) -> TEXT:
    return TEXT(analyzer=analysis.analyzer_for(code), phrase=False)


def _schema() -> Schema:
    schema = Schema(pid=ID(stored=True, unique=True), alang=ID)
    for code in _all_codes():
        schema.add(text_field(code), _language_field(code))
        schema.add(title_field(code), _language_field(code))
    return schema


def _all_codes() -> list[str]:
    return sorted(analysis.LANGUAGES | {analysis.UNKNOWN})


def _abandon(writer: IndexWriter) -> None:
    """Cancel a writer that failed. Cancelling closes its files, which can fail again (on a
    full disk); its lock is released all the same, or the lock's file would stay open, and
    the lock held, for the life of the process (the files Whoosh left open close when the
    writer is dropped). The caller raises the first error."""
    try:
        writer.cancel()
    except Exception:
        lock = writer.writelock
        if lock is not None and lock.fd is not None:
            lock.release()


class KeywordIndex:
    """A Whoosh index of paragraphs in a folder. Use :meth:`create` or :meth:`open`."""

    def __init__(
        self, path: Path, index: whoosh.index.Index, checksums: dict[str, list[int]]
    ) -> None:
        self.path = path
        self._index = index
        self._checksums = checksums
        self._view = View.open(index)
        self._search_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._writer: IndexWriter | None = None
        self._wrote = False

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
        denied = None
        # Whoosh leaves files open when it fails to read an index; they are closed (quietly)
        # when the exception is dropped, inside this block.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                checksums = verify_checksums(path)
                keyword_index = cls(path, whoosh.index.open_dir(str(path)), checksums)
                return keyword_index
            except PermissionError as exc:  # not damage: a rebuild would not help
                denied = PermissionError(exc.errno, exc.strerror, exc.filename)
            # Garbage in a Whoosh file surfaces as almost any exception type (unpickling, struct,
            # EOF, zlib, index and key errors): any failure to read it means it is damaged.
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if keyword_index is not None:
                with contextlib.suppress(Exception):
                    keyword_index.close()
            gc.collect()
        if denied is not None:
            raise denied
        raise IndexCorrupt(
            f"the keyword index in {path} is damaged ({problem}); run `search index --rebuild`"
        )

    # Writing -------------------------------------------------------------------------------

    def _get_writer(self) -> IndexWriter:
        if self._writer is None:
            # The lock is taken here rather than by the writer, which keeps it (and its file
            # open) for the life of the process when it fails half-made, on a full disk say.
            lock = self._index.lock("WRITELOCK")
            if not lock.acquire():
                raise IndexBusy(f"another process is writing the keyword index in {self.path}")
            try:
                self._writer = SegmentWriter(self._index, _lk=False, limitmb=256)
            except BaseException:
                lock.release()
                raise
            self._writer.writelock = lock  # released by its commit or cancel
            self._wrote = True
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
            _abandon(writer)

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
        writer.add_document(**{"pid": str(doc.pid), LANG_FIELD: code,
                                 text_field(code): doc.text, title_field(code): doc.title})

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
                _abandon(writer)
                raise
            self._checksums = write_checksums(self.path, self._checksums)
        view = View.open(self._index)
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

    def search(self, text: str, limit: int, allowed: np.ndarray | None = None,
               lang: str | None = None,
               langs: Callable[[list[int]], list[str]] | None = None) -> list[Candidate]:
        """Paragraphs matching ``text`` (plain words, never query syntax), best first; only
        those whose pid is in ``allowed`` when it is given; each with its language when
        ``langs`` gives them (by pid).

        Every language field in the index is searched with the query analyzed its way; a query
        with no searchable words returns []. The query's language ``lang`` only says where to
        look for typos (see `keyword_query`): boosting its fields by 1.5 lowered nDCG@10 on
        all XQuAD-R dev paragraphs pooled from .311 to .286 (translations count as relevant).
        """
        if limit <= 0 or not text:
            return []
        with self._search_lock:
            view = self._view
            query = keyword_query(view, clean(text), lang)
            if not query.terms:
                return []
            scores, coverage = view.scorer.scores_and_coverage(query.terms, query.shares)
            candidates = np.flatnonzero(scores > 0)
            if allowed is not None:
                candidates = candidates[np.isin(view.doc_pids[candidates], allowed)]
            top = top_documents(scores, candidates, limit + TIE_MARGIN)
            pids = view.doc_pids[top]
            found = scores[top]
            # Best first, ties by pid; sorted in numpy: a batch counts thousands a query.
            order = np.lexsort((pids, -found))[:limit]
            ranked = pids[order].tolist()
            named = langs(ranked) if langs is not None else [None] * len(ranked)
            return [Candidate(pid, score, min(1.0, round(cover, 6)), lang_of)
                    for pid, score, cover, lang_of
                    in zip(ranked, found[order].tolist(), coverage[top][order].tolist(), named,
                           strict=True)]

    def close(self) -> None:
        """Drop uncommitted changes and release files. Closing twice is harmless."""
        with self._write_lock:
            self._abort()
        with self._search_lock:
            if not self._view.searcher.is_closed:
                self._view.searcher.close()
        if self._wrote:
            # Whoosh's writer leaves reference cycles holding memory maps of segment files, each
            # with a file descriptor of its own: a server that re-indexes would keep them, of
            # deleted generations too, until the cycle collector happens to run.
            self._wrote = False
            gc.collect()

    def __enter__(self) -> KeywordIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
