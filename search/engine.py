"""The search engine: the one place that knows there are two indexes and fuses them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import regex

from search.backends.local.reader import ArticleRecord, ParagraphRecord, Snapshot
from search.backends.local.store import IndexStore
from search.config import Settings
from search.encoders.loading import Encoder
from search.errors import ArticleNotFound, IndexIncompatible, InvalidQuery
from search.ingest.language import UNDETERMINED, LanguageDetector, normalize_code
from search.lru import LRUCache
from search.ranking.fusion import (
    Fused,
    FusionMethod,
    feedback_vector,
    fuse,
    keyword_first,
    language_weights,
    single,
    weighted,
)
from search.ranking.highlight import highlight_and_snippet
from search.ranking.query import Candidate, Filters, Mode, Query, validate

_LANG_CODE = regex.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Explanation:
    """Why a paragraph ranks where it does (ranks 1-based; None: not in that side's window)."""

    keyword_rank: int | None
    keyword_score: float | None
    semantic_rank: int | None
    semantic_score: float | None
    fused_score: float


@dataclass(frozen=True)
class Hit:
    paragraph_id: str
    article_id: str
    title: str
    lang: str
    date: str | None
    source: str | None
    place: str | None
    url: str | None
    position: int
    start: int
    end: int
    text: str
    highlighted: str  # the whole paragraph, HTML-escaped, query terms in <mark>
    snippet: str  # a window of it, same markup
    score: float
    explain: Explanation


@dataclass(frozen=True)
class Understood:
    """The query as the engine read it."""

    text: str
    lang: str
    lang_detected: bool
    mode: Mode
    fusion: FusionMethod | None
    alpha: float | None
    filters: Filters
    one_per_article: bool


@dataclass(frozen=True)
class SearchPage:
    query: Understood
    page: int
    size: int
    total: int
    hits: list[Hit]
    took_ms: float
    generation: str


@dataclass(frozen=True)
class ArticleView:
    article: ArticleRecord
    paragraphs: list[ParagraphRecord]


@dataclass(frozen=True)
class IndexStats:
    index_dir: str
    generation: str
    created: str
    model: str
    dim: int
    articles: int
    paragraphs: int
    languages: dict[str, int]
    approximate: bool


def paragraph_id(record: ParagraphRecord) -> str:
    return f"{record.article_id}:{record.position}"


class _Holder:
    """A snapshot with a count of the queries using it, closed once retired and unused."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.users = 0
        self.retired = False


class Engine:
    """Answers queries from the live generation of an index folder.

    Construction does no I/O; `open()` loads the index, `refresh()` switches to a newer
    generation when one was published. Queries running during a switch finish on the
    generation they started with.
    """

    def __init__(
        self,
        index_dir: Path,
        settings: Settings | None = None,
        model: str | None = None,
        encoder_factory: Callable[[str], Encoder] | None = None,
        detector: LanguageDetector | None = None,
    ) -> None:
        """model: the model the caller expects the index to use; None takes the index's."""
        self.store = IndexStore(Path(index_dir))
        self.settings = settings or Settings()
        self.model = model
        self._encoder_factory = encoder_factory
        self._encoder: Encoder | None = None
        self._detector = detector or LanguageDetector()
        self._holder: _Holder | None = None
        # Keyed by generation and query, so a new generation never sees an older answer.
        self._pages: LRUCache[SearchPage] = LRUCache(self.settings.result_cache)
        self._computing = threading.BoundedSemaphore(max(1, self.settings.concurrent_searches))
        self._closed = False
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> Engine:
        self._closed = False
        self.refresh()
        return self

    def refresh(self) -> bool:
        """Load the live generation if it is not the one being served. True if it switched.
        After close() it does nothing (a background refresh may still be on its way)."""
        with self._refresh_lock:
            if self._closed:
                return False
            name = self.store.require_current()
            if self._holder is not None and self._holder.snapshot.manifest.name == name:
                return False
            snapshot = Snapshot.load(self.store, name)
            try:
                self._check_model(snapshot)
            except BaseException:
                snapshot.close()
                raise
            with self._lock:
                old, self._holder = self._holder, _Holder(snapshot)
                if old is not None:
                    old.retired = True
                    self._close_if_unused(old)
            return True

    def _check_model(self, snapshot: Snapshot) -> None:
        manifest = snapshot.manifest
        requested = self.model or manifest.model
        if requested != manifest.model:
            raise IndexIncompatible(
                f"{self.store.root} was built with model {manifest.model!r}, not {requested!r}:"
                f" search it with --model {manifest.model}, or rebuild it with"
                f" `search index --rebuild --model {requested}`"
            )
        if self._encoder is not None and self._encoder.info.dim != manifest.dim:
            raise IndexIncompatible(
                f"{self.store.root} holds {manifest.dim}-d vectors but the model gives "
                f"{self._encoder.info.dim}-d ones; rebuild with `search index --rebuild`"
            )

    @staticmethod
    def _close_if_unused(holder: _Holder) -> None:
        if holder.retired and holder.users == 0:
            holder.snapshot.close()

    @contextmanager
    def _snapshot(self) -> Iterator[Snapshot]:
        with self._lock:
            holder = self._holder
            if holder is None:
                raise RuntimeError("Engine.open() was not called")
            holder.users += 1
        try:
            yield holder.snapshot
        finally:
            with self._lock:
                holder.users -= 1
                self._close_if_unused(holder)

    def close(self) -> None:
        with self._refresh_lock, self._lock:
            self._closed = True
            if self._holder is not None:
                self._holder.retired = True
                self._close_if_unused(self._holder)
                self._holder = None

    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use."""
        if self._encoder is None:
            with self._snapshot() as snapshot:
                model = snapshot.manifest.model
            if self._encoder_factory is None:
                from search.encoders.loading import load_encoder

                # Queries are encoded one at a time (the encoder's lock), and one short text
                # gains nothing from a second torch thread: with two, every parallel region
                # waits for both, and on a busy machine that made each query ~30x slower (see
                # docs/benchmarks.md). An explicit settings.threads still applies.
                self._encoder = load_encoder(model, self.settings.threads or 1)
            else:
                self._encoder = self._encoder_factory(model)
        return self._encoder

    # -- queries ---------------------------------------------------------------------------
    def search(self, query: Query) -> SearchPage:
        """Run a query; raises InvalidQuery with a user-facing reason for bad input."""
        started = time.perf_counter()
        query = validate(query, self.settings.max_query_chars, self.settings.max_page_size)
        with self._snapshot() as snapshot:
            key = (snapshot.manifest.name, query)
            cached = self._pages.get(key)
            if cached is not None:
                return replace(cached, took_ms=round((time.perf_counter() - started) * 1000, 2))
            with self._computing:
                understood = self._understand(query, snapshot)
                fused = self._rank(understood, snapshot, window=max(
                    self.settings.window, query.page * query.size))
                if understood.one_per_article:
                    fused = _best_per_article(fused, snapshot)
                first = (query.page - 1) * query.size
                shown = fused[first : first + query.size]
                records = snapshot.paragraphs.many(f.pid for f in shown)  # texts read here
                hits = [self._hit(f, p, understood, snapshot)
                        for f, p in zip(shown, records, strict=True)]
            page = SearchPage(
                query=understood,
                page=query.page,
                size=query.size,
                total=len(fused),
                hits=hits,
                took_ms=round((time.perf_counter() - started) * 1000, 2),
                generation=snapshot.manifest.name,
            )
            self._pages.put(key, page)
            return page

    def _understand(self, query: Query, snapshot: Snapshot) -> Understood:
        indexed = snapshot.manifest.languages
        filters = _checked_filters(query.filters, indexed)
        if query.lang:
            lang = normalize_code(query.lang)
            if not _LANG_CODE.match(lang):
                raise InvalidQuery(f"{query.lang!r} is not a language code (use e.g. en, de, zh)")
            detected = False
        else:
            lang = self._detector.detect(query.text, candidates=list(indexed) or None)
            detected = True
        fusion = alpha = None
        if query.mode is Mode.HYBRID:
            try:
                fusion = FusionMethod(query.fusion or self.settings.fusion)
            except ValueError:
                raise InvalidQuery(
                    f"unknown fusion {query.fusion!r}: use "
                    + " or ".join(m.value for m in FusionMethod)
                ) from None
            default_alpha = 0.5 if fusion is FusionMethod.RRF else self.settings.alpha
            alpha = query.alpha if query.alpha is not None else default_alpha
        return Understood(query.text, lang, detected, query.mode, fusion, alpha, filters,
                          query.one_per_article)

    def _rank(self, q: Understood, snapshot: Snapshot, window: int) -> list[Fused]:
        allowed = snapshot.allowed_pids(q.filters)
        ef_search = self.settings.hnsw_ef_search
        keyword = semantic = []
        if q.mode in (Mode.KEYWORD, Mode.HYBRID):
            keyword = snapshot.keyword.search(q.text, q.lang, window, q.filters)
        if q.mode in (Mode.SEMANTIC, Mode.HYBRID):
            vector = self.encoder().encode_query(q.text)
            semantic = snapshot.dense.search(vector, window, allowed, ef_search)
        if q.mode is Mode.KEYWORD:
            return single(keyword, "keyword")
        if q.mode is Mode.SEMANTIC:
            return single(semantic, "semantic")
        if q.fusion is FusionMethod.RRF:
            return fuse(q.fusion, keyword, semantic, q.alpha, self.settings.rrf_k)
        # Language-aware weighted fusion; docs/benchmarks.md has the measurements behind it.
        covered = self.encoder().info.languages
        lang = self._fusion_language(q)
        if covered is not None and lang not in covered:
            return keyword_first(keyword, semantic)

        def fused_with(feedback: list[Candidate], feedback_pids: set[int]) -> list[Fused]:
            pids = list({c.pid for c in (*keyword, *semantic, *feedback)})
            langs = dict(zip(pids, snapshot.paragraphs.langs(pids), strict=True))
            weights = language_weights(langs, lang, q.alpha, self.settings.alpha_cross, covered)
            return weighted(keyword, semantic, q.alpha, weights=weights, feedback=feedback,
                            feedback_pids=feedback_pids)

        fused = fused_with([], set())
        if self.settings.feedback <= 0 or not fused:
            return fused
        # Dense pseudo-relevance feedback, for paragraphs in a third language only: the best
        # passage's vector finds its translations, while the ranking within the query's and
        # that passage's own languages (where it already stands first) is left alone.
        top = fused[0].pid
        [top_lang] = snapshot.paragraphs.langs([top])
        if not set(snapshot.manifest.languages) - {lang, top_lang}:
            return fused
        feedback = snapshot.dense.search(
            feedback_vector(vector, snapshot.dense.vector(top), self.settings.feedback),
            window, allowed, ef_search)
        found = [c.pid for c in feedback]
        third = {pid for pid, found_lang in zip(found, snapshot.paragraphs.langs(found),
                                                strict=True)
                 if found_lang not in (lang, top_lang)}
        return fused_with(feedback, third)

    def _fusion_language(self, q: Understood) -> str:
        """The query's language for fusion weights. Detection for the keyword side is limited
        to the index's languages, which labels a German question over an English index as
        English; fusion needs to know the question is German."""
        if not q.lang_detected:
            return q.lang
        lang = self._detector.detect(q.text)
        return q.lang if lang == UNDETERMINED else lang

    def _hit(self, fused: Fused, paragraph: ParagraphRecord, q: Understood,
             snapshot: Snapshot) -> Hit:
        article = snapshot.articles[paragraph.article_id]
        marked, cut = highlight_and_snippet(paragraph.text, q.text, paragraph.lang, q.lang)
        return Hit(
            paragraph_id=paragraph_id(paragraph),
            article_id=article.id,
            title=article.title,
            lang=paragraph.lang,
            date=article.date,
            source=article.source,
            place=article.place,
            url=article.url,
            position=paragraph.position,
            start=paragraph.start,
            end=paragraph.end,
            text=paragraph.text,
            highlighted=marked,
            snippet=cut,
            score=round(fused.score, 6),
            explain=Explanation(
                fused.keyword_rank, fused.keyword_score, fused.semantic_rank,
                fused.semantic_score, fused.score,
            ),
        )

    # -- articles and stats ----------------------------------------------------------------
    def article(self, article_id: str) -> ArticleView:
        with self._snapshot() as snapshot:
            record = snapshot.articles.get(article_id)
            if record is None:
                raise ArticleNotFound(f"no article {article_id!r} in the index")
            paragraphs = snapshot.paragraphs.many(record.paragraph_pids)
            return ArticleView(record, sorted(paragraphs, key=lambda p: p.position))

    def stats(self) -> IndexStats:
        with self._snapshot() as snapshot:
            m = snapshot.manifest
            return IndexStats(
                str(self.store.root), m.name, m.created, m.model, m.dim, m.articles,
                m.paragraphs, dict(m.languages), snapshot.dense.approximate,
            )


def _checked_filters(filters: Filters, indexed: dict[str, int]) -> Filters:
    languages = tuple(normalize_code(code) for code in filters.languages)
    unknown = [code for code in languages if code not in indexed]
    if unknown:
        have = ", ".join(sorted(indexed)) or "none yet"
        raise InvalidQuery(
            f"no paragraphs in language {', '.join(unknown)}; the index has: {have}"
        )
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        if value is not None:
            try:
                date.fromisoformat(value)
            except (TypeError, ValueError):
                raise InvalidQuery(
                    f"{name} must be a date like 2025-07-22, not {value!r}"
                ) from None
    return replace(filters, languages=languages)


def _best_per_article(fused: list[Fused], snapshot: Snapshot) -> list[Fused]:
    seen: set[str] = set()
    best = []
    article_ids = snapshot.paragraphs.article_ids(item.pid for item in fused)
    for item, article_id in zip(fused, article_ids, strict=True):
        if article_id not in seen:
            seen.add(article_id)
            best.append(item)
    return best
