"""The search engine: answers queries from the live generation of an index, on any backend.

It understands the query, asks the backend for both sides' candidates, ranks them (see
search.ranking.policy), pages, builds the hits and caches the page. Readers of a generation
are reference counted, so queries running during a switch to a newer generation finish on
the one they started with.

Longer than most modules (~340 lines) for one reason: the callers that run many queries or
every match (batch search, export) must use the same generation, cache and constants as
`search`, so `encode_queries` and `matches` live here; lookups by id are search/lookup.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from search.backends import open_backend
from search.backends.base import Backend, GenerationReader
from search.config import Settings
from search.encoders.base import Encoder
from search.encoders.calibration import semantic_floors
from search.encoders.queries import encode_query_batch
from search.errors import (
    IndexIncompatible,
    IndexMissing,
    InvalidQuery,
)
from search.ingest.language import LanguageDetector
from search.lookup import article_view, paragraph_view, similar_paragraphs
from search.lru import LRUCache
from search.ranking.hits import build_hits
from search.ranking.known import KnownFacts
from search.ranking.language_bias import language_bias
from search.ranking.listing import Listing, list_matches
from search.ranking.matching import MATCH
from search.ranking.ordering import Collapse
from search.ranking.policy import candidates, rank
from search.ranking.query import Mode, Query, Understood, understand
from search.ranking.word_forms import WordForms
from search.results import (
    ArticleView,
    Hit,
    IndexStats,
    Matching,
    ParagraphView,
    SearchPage,
    Similar,
)


class _Holder:
    """A reader with a count of the queries using it, closed once retired and unused."""

    def __init__(self, reader: GenerationReader, name: str, identity: str,
                 settings: Settings) -> None:
        self.reader = reader
        self.name = name
        self.identity = identity  # tells a rebuilt index's generation of the same name
        self.users = 0
        self.retired = False
        # Constants of the generation, computed once for all its queries.
        self.bias = language_bias(reader.catalog, settings.language_centering)
        self.floors = semantic_floors(reader.catalog.model, settings)

    def close_if_unused(self) -> None:
        if self.retired and self.users == 0:
            self.reader.close()


class Engine:
    """Answers queries from the live generation of an index folder.

    Construction does no I/O; `open()` loads the index, `refresh()` switches to a newer
    generation when one was published.
    """

    def __init__(
        self,
        index_dir: Path | str,
        settings: Settings | None = None,
        model: str | None = None,
        encoder_factory: Callable[[str], Encoder] | None = None,
        detector: LanguageDetector | None = None,
        backend: Backend | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        """model: the model the caller expects the index to use; None takes the index's.
        backend: None opens the one the index folder records. today: the clock recency
        boosts count article ages from."""
        self.index_dir = Path(index_dir)
        self.settings = settings or Settings()
        self.model = model
        self._backend = backend
        self._encoder_factory = encoder_factory
        self._encoder: Encoder | None = None
        self._detector = detector or LanguageDetector()
        self._today = today
        self._holder: _Holder | None = None
        # Keyed by generation and query, so a new generation never sees an older answer.
        self._pages: LRUCache[SearchPage] = LRUCache(self.settings.result_cache)
        self._computing = threading.BoundedSemaphore(max(1, self.settings.concurrent_searches))
        self._closed = False
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = open_backend(self.index_dir, self.settings)
        return self._backend

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> Engine:
        self._closed = False
        self.refresh()
        return self

    def refresh(self) -> bool:
        """Load the live generation if it is not the one being served (another name, or the
        same name in an index folder built anew or restored). True if it switched. After
        close() it does nothing (a background refresh may still be on its way)."""
        with self._refresh_lock:
            if self._closed:
                return False
            name = self.backend.current()
            if name is None:
                raise IndexMissing(f"no index in {self.index_dir}: run `search index` first "
                                   "(or pass --index DIR)")
            identity = self.backend.identity(name)
            if self._holder is not None and (self._holder.name, self._holder.identity) == (
                    name, identity):
                return False
            reader = self.backend.open(name)
            try:
                self._check_model(reader)
            except BaseException:
                reader.close()
                raise
            with self._lock:
                old, self._holder = self._holder, _Holder(
                    reader, name, identity, self.settings)
                if old is not None:
                    old.retired = True
                    old.close_if_unused()
            return True

    def _check_model(self, reader: GenerationReader) -> None:
        catalog = reader.catalog
        requested = self.model or catalog.model
        if requested != catalog.model:
            raise IndexIncompatible(
                f"{self.index_dir} was built with model {catalog.model!r}, not {requested!r}:"
                f" search it with --model {catalog.model}, or rebuild it with"
                f" `search index --rebuild --model {requested}`"
            )
        if self._encoder is not None and self._encoder.info.dim != catalog.dim:
            raise IndexIncompatible(
                f"{self.index_dir} holds {catalog.dim}-d vectors but the model gives "
                f"{self._encoder.info.dim}-d ones; rebuild with `search index --rebuild`"
            )

    @contextmanager
    def _reader(self) -> Iterator[GenerationReader]:
        with self._generation() as holder:
            yield holder.reader

    @contextmanager
    def _generation(self) -> Iterator[_Holder]:
        with self._lock:
            holder = self._holder
            if holder is None:
                raise RuntimeError("Engine.open() was not called")
            holder.users += 1
        try:
            yield holder
        finally:
            with self._lock:
                holder.users -= 1
                holder.close_if_unused()

    def close(self) -> None:
        with self._refresh_lock, self._lock:
            self._closed = True
            if self._holder is not None:
                self._holder.retired = True
                self._holder.close_if_unused()
                self._holder = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use."""
        if self._encoder is None:
            with self._reader() as reader:
                model = reader.catalog.model
            if self._encoder_factory is None:
                from search.encoders.loading import load_encoder

                # Queries are encoded one at a time (the encoder's lock), and one short text
                # gains nothing from a second torch thread: with two, every parallel region
                # waits for both, and on a busy machine that made each query ~30x slower (see
                # docs/benchmarks.md). An explicit settings.threads still applies.
                self._encoder = load_encoder(model, self.settings.threads or 1,
                                             precision=self.settings.precision,
                                             model_cache=self.settings.model_cache)
            else:
                self._encoder = self._encoder_factory(model)
        return self._encoder

    # -- queries ---------------------------------------------------------------------------
    def search(self, query: Query, *, vector: np.ndarray | None = None,
               count_window: int | None = None, whole: int | None = None,
               words: WordForms | None = None) -> SearchPage:
        """Run a query; raises InvalidQuery with a user-facing reason for bad input.
        `vector`: the query's vector when the caller encoded it already (with others, see
        `encode_queries`); `count_window`: candidates a side counts matches among, when
        more than the settings' (a batch wants exact counts); `whole`: how many hits (of
        the page, and of the closest) are highlighted and given their translations, None
        all (a batch shows a few and reads only the explanations of the others); `words`:
        a batch's table of the forms of its hits' words (search.ranking.word_forms), None
        the process's memo."""
        started = time.perf_counter()
        counted = max(count_window or 0, self.settings.count_window)
        with self._generation() as generation:
            reader = generation.reader
            q = understand(query, self.settings, reader.catalog.languages, self._detector)
            today = self._today()
            # Recency ages change with the day, so the day is part of such a query's key.
            key = (generation.identity, q, today if q.recency is not None else None, counted,
                   whole)
            cached = self._pages.get(key)
            if cached is not None:
                return replace(cached, took_ms=round((time.perf_counter() - started) * 1000, 2))
            with self._computing:
                if q.mode is Mode.KEYWORD:
                    vector = None
                elif vector is None:
                    vector = self.encoder().encode_query(q.text)
                window = max(self.settings.window, q.page * q.size)
                known = KnownFacts(reader)
                listing = self._listing(q, generation, known, vector, window, counted, today)
                first = (q.page - 1) * q.size
                hits = build_hits(listing.listed[first : first + q.size], q, reader, known,
                                  whole, words)
                closest = build_hits(listing.closest, q, reader, known, whole, words)
            page = SearchPage(q, q.page, q.size, listing.total, hits,
                              round((time.perf_counter() - started) * 1000, 2),
                              reader.catalog.name, listing.total_relation, listing.facets,
                              closest, len(listing.listed))
            self._pages.put(key, page)
            return page

    def _listing(self, q: Understood, generation: _Holder, known: KnownFacts,
                 vector: np.ndarray | None, window: int, counted: int, today: date) -> Listing:
        settings = replace(self.settings, count_window=counted)
        reader = generation.reader
        keyword, semantic = candidates(q, reader, vector, generation.bias, max(window, counted))
        fused = rank(q, reader, vector, self.encoder().info.languages if vector
                     is not None else None, settings, window,
                     (keyword[:window], semantic[:window]), generation.bias, known)
        return list_matches(q, known, fused, keyword, semantic, settings, generation.floors,
                            today)

    def encode_queries(self, queries: Sequence[Query]) -> list[np.ndarray | None]:
        """The vectors of the queries whose mode needs one, encoded in one batch (None for
        keyword mode); a query's text is encoded as `search` would encode it."""
        wanted = [i for i, query in enumerate(queries) if query.mode is not Mode.KEYWORD]
        vectors: list[np.ndarray | None] = [None] * len(queries)
        if wanted:
            rows = encode_query_batch(self.encoder(), [queries[i].text.strip() for i in wanted])
            for i, row in zip(wanted, rows, strict=True):
                vectors[i] = row
        return vectors

    def matches(self, query: Query, limit: int, block: int = 500) -> Matching:
        """Every paragraph matching `query` (at most `limit`, each once), best first, as hits
        made `block` at a time while `Matching.hits` is read, so that an export's memory does
        not grow with its rows. The page, size and collapse of `query` do not apply. Close
        the Matching (it is a context manager) to release the generation it reads."""
        stack = ExitStack()
        generation = stack.enter_context(self._generation())
        reader = generation.reader
        known = KnownFacts(reader)
        try:
            q = replace(understand(query, self.settings, reader.catalog.languages,
                                   self._detector), page=1, one_per_article=False,
                        collapse=Collapse.NONE)
            vector = (None if q.mode is Mode.KEYWORD
                      else self.encoder().encode_query(q.text))
            with self._computing:
                # One more than the limit: a full window says the list was cut.
                listing = self._listing(q, generation, known, vector, self.settings.window,
                                        limit + 1, self._today())
        except BaseException:
            stack.close()
            raise
        matched = [item for item in listing.listed
                   if item.evidence is not None and item.evidence >= MATCH]
        shown = matched[:limit]

        def hits() -> Iterator[Hit]:
            for start in range(0, len(shown), block):
                yield from build_hits(shown[start : start + block], q, reader, known)

        cut = len(matched) > limit or listing.total_relation == "gte"
        return Matching(q, len(shown), cut, listing.facets, hits(), stack.close)

    # -- articles and stats ----------------------------------------------------------------
    def article(self, article_id: str) -> ArticleView:
        """One article with its paragraphs in order and its versions in other languages."""
        with self._reader() as reader:
            return article_view(reader, article_id)

    def paragraph(self, paragraph_id: str) -> ParagraphView:
        """One paragraph (`article id:position`) with its article and translation group."""
        with self._reader() as reader:
            return paragraph_view(reader, paragraph_id)

    def similar(self, paragraph_id: str, size: int = 10) -> list[Similar]:
        """The paragraphs of other articles closest in meaning to one paragraph, in any
        language: its translations first (marked), then the others (search.lookup)."""
        if not 1 <= size <= self.settings.max_page_size:
            raise InvalidQuery(
                f"size must be between 1 and {self.settings.max_page_size}, not {size}")
        with self._generation() as generation:
            return similar_paragraphs(generation.reader, generation.bias, paragraph_id, size)

    def stats(self) -> IndexStats:
        with self._reader() as reader:
            c = reader.catalog
            return IndexStats(str(self.index_dir), c.name, c.created, c.model, c.dim,
                              c.articles, c.paragraphs, dict(c.languages), reader.approximate,
                              c.precision)
