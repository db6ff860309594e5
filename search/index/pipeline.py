"""Reading ahead of the encoder: the changed seed files are read, chunked and their paragraphs'
languages detected in a thread of their own, which hands each article, as soon as it is made,
to the embedding (the caller's thread) and to the keyword side (a third thread).

The encoder starts on the first articles while later files are still being read, and the
keyword side analyses them meanwhile: torch releases the GIL in its matrix code, so on a
multi-core CPU the three overlap. Articles leave in file order and paragraph ids are given in
that order, so a run makes the same generation as reading everything first would.
"""

from __future__ import annotations

import queue
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from search.errors import UnreadableFile
from search.ingest.article import Article
from search.ingest.chunking import split_paragraphs
from search.ingest.language import LanguageDetector, normalize_code
from search.ingest.seeds import Problem, SeedFile, read_articles
from search.ranking.query import LANG_CODE
from search.records import FileEntry, NewArticle, NewParagraph, Progress

_LANG_CODE = re.compile(LANG_CODE)

# Articles the embedding may fall behind the reading before the reader waits: enough to keep
# the encoder fed through a slow file, little memory (the keyword side's queue is unbounded,
# so that a slow keyword side never holds up the encoder).
AHEAD = 1000
_POLL = 0.1  # seconds between looks at the stop flag while waiting
_END = object()


class Stopped(Exception):
    """The read-ahead was stopped because another part of the run failed."""


@dataclass
class Reading:
    """What reading found; complete once the article streams have ended."""

    next_pid: int
    new_files: dict[str, FileEntry] = field(default_factory=dict)
    replaced: list[str] = field(default_factory=list)  # changed files: old versions go
    added: int = 0  # articles of new files
    changed: int = 0  # articles of changed files
    problems: list[Problem] = field(default_factory=list)  # files that could not be read
    losses: list[Problem] = field(default_factory=list)  # files read that lost records
    records_skipped: int = 0  # what those files lost
    notes: list[str] = field(default_factory=list)  # a field read as nothing, and why


@dataclass(frozen=True)
class ToRead:
    seed_file: SeedFile
    indexed: bool  # an older version of this path is in the live generation


class ReadAhead:
    """The reader thread and the two article streams it feeds. Use as a context manager:
    entering starts the thread, leaving stops it (if still running) and waits for it."""

    def __init__(self, seeds_dir: Path, files: list[ToRead], first_pid: int, min_words: int,
                 detector: LanguageDetector, report: Progress) -> None:
        self.seeds_dir = seeds_dir
        self.files = files
        self.reading = Reading(first_pid)
        self._max_chars: Future[int] = Future()  # known once the model has loaded
        self._min_words = min_words
        self._detector = detector
        self._report = report
        self._for_vectors: queue.Queue[object] = queue.Queue(AHEAD)
        self._for_keywords: queue.Queue[object] = queue.Queue()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._thread.join()

    def set_max_chars(self, compute: Callable[[], int]) -> None:
        """Compute the longest paragraph (loading the model, in the caller's thread) and let
        the reader chunk with it; what the computation raises, both threads raise."""
        try:
            self._max_chars.set_result(compute())
        except BaseException as exc:
            self._max_chars.set_exception(exc)
            raise

    def stop(self) -> None:
        """Stop reading; both streams raise Stopped from their next article on."""
        self._stop.set()

    def for_vectors(self) -> Iterator[NewArticle]:
        """The new articles in file order; raises what stopped the reader, if anything did."""
        return self._stream(self._for_vectors, own_errors=True)

    def for_keywords(self) -> Iterator[NewArticle]:
        """The same articles for the keyword side (a reader's error surfaces as Stopped here:
        the embedding side raises it)."""
        return self._stream(self._for_keywords, own_errors=False)

    def _stream(self, source: queue.Queue[object], own_errors: bool) -> Iterator[NewArticle]:
        while True:
            try:
                item = source.get(timeout=_POLL)
            except queue.Empty:
                if self._stop.is_set():
                    raise Stopped from None
                continue
            if item is _END:
                if self._error is not None:
                    if own_errors:
                        raise self._error
                    raise Stopped
                return
            if self._stop.is_set():
                raise Stopped
            assert isinstance(item, NewArticle)
            yield item

    # -- the reader thread -----------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.files:  # its model loads while the encoder's does
                self._detector.detect("warm")
            for number, to_read in enumerate(self.files, start=1):
                self._read(to_read)
                self._report("reading", number, len(self.files))
        except BaseException as exc:  # handed to the embedding side, which raises it
            self._error = exc
        self._put(self._for_keywords, _END)
        self._put(self._for_vectors, _END)

    def _read(self, to_read: ToRead) -> None:
        seed_file = to_read.seed_file
        try:
            articles = read_articles(self.seeds_dir, seed_file)
        except UnreadableFile as exc:
            self.reading.problems.append(Problem(seed_file.path, str(exc)))
            return
        if articles.lost is not None:
            self.reading.losses.append(Problem(seed_file.path, str(articles.lost)))
            self.reading.records_skipped += articles.lost.count
        if to_read.indexed:
            self.reading.changed += len(articles)
            self.reading.replaced.append(seed_file.path)
        else:
            self.reading.added += len(articles)
        if not articles:
            return
        first_pid = self.reading.next_pid
        languages: Counter[str] = Counter()
        for article in articles:
            new = self._new_article(article, self._wait_for_max_chars())
            languages.update(p.lang for p in new.paragraphs)
            self._put(self._for_keywords, new)
            self._put(self._for_vectors, new)
        self.reading.new_files[seed_file.path] = FileEntry(
            seed_file.content_hash, tuple(article.id for article in articles),
            self.reading.next_pid - first_pid, dict(sorted(languages.items())), first_pid,
        )

    def _new_article(self, article: Article, max_chars: int) -> NewArticle:
        article = self._checked(article)
        chunks = split_paragraphs(article.text, max_chars, self._min_words)
        stated = normalize_code(article.lang) if article.lang else None
        paragraphs = []
        for chunk in chunks:
            lang = stated or self._detector.detect(chunk.text)
            paragraphs.append(NewParagraph(self.reading.next_pid, chunk.position, chunk.start,
                                           chunk.end, chunk.text, lang))
            self.reading.next_pid += 1
        return NewArticle(article.id, article.path, article.title, article.date, article.place,
                          article.source, article.url, article.lang, tuple(paragraphs))

    def _checked(self, article: Article) -> Article:
        """The article with a stated language that is no language code (the query's rule)
        left to detection, and a date more than a day ahead left out, each with a note."""
        if article.lang and not _LANG_CODE.fullmatch(article.lang):
            self.reading.notes.append(f"{article.id}: lang {article.lang[:40]!r} is not a "
                                      "language code; detected from the text instead")
            article = replace(article, lang=None)
        if article.date and article.date > (date.today() + timedelta(days=1)).isoformat():
            self.reading.notes.append(f"{article.id}: date {article.date} is in the future; "
                                      "indexed undated")
            article = replace(article, date=None)
        return article

    def _wait_for_max_chars(self) -> int:
        while True:
            try:
                if self._max_chars.exception(timeout=_POLL) is not None:
                    raise Stopped  # the model failed to load: the caller's thread says why
                return self._max_chars.result()
            except FutureTimeout:
                if self._stop.is_set():
                    raise Stopped from None

    def _put(self, target: queue.Queue[object], item: object) -> None:
        while True:
            if self._stop.is_set() and item is not _END:
                raise Stopped
            try:
                target.put(item, timeout=_POLL)
                return
            except queue.Full:
                if self._stop.is_set():
                    return  # nobody reads any more: the end marker is not needed

