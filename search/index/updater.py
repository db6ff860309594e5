"""Bring an index up to date with seeds/: one complete new generation per run, or none.

Only added and changed files are read, chunked and embedded (and embeddings of unchanged
paragraph texts come from the cache); removed files disappear. A file that cannot be read
is reported and skipped; if an earlier version of it was indexed, that version stays. The
updater works on any backend: it compares seeds/ with the live generation's catalog and
hands the differences to the backend's writer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from search.backends import create_backend, open_backend, record, recorded
from search.backends.base import (
    Backend,
    Catalog,
    FileEntry,
    GenerationWriter,
    NewArticle,
    NewParagraph,
    Progress,
)
from search.backends.oserrors import unwritable
from search.config import Settings
from search.encoders.base import Embed, Encoder
from search.errors import EmbeddingFailed, IndexIncompatible, UnreadableFile
from search.index.embedding_cache import EmbeddingCache, text_hash
from search.index.summary import IndexSummary
from search.ingest.article import Article
from search.ingest.chunking import split_paragraphs
from search.ingest.language import LanguageDetector, normalize_code
from search.ingest.seeds import Problem, SeedFile, read_articles, scan_seeds


def update_index(
    seeds_dir: Path | str,
    index_dir: Path | str,
    settings: Settings | None = None,
    load_encoder: Callable[[], Encoder] | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    detector: LanguageDetector | None = None,
    backend: str | None = None,
    backend_options: dict[str, Any] | None = None,
    embed: Embed | None = None,
) -> IndexSummary:
    """Index seeds_dir into index_dir and switch readers to the result.

    load_encoder is called only if something needs embedding (None: the settings' model).
    `embed` computes the vectors of the texts the embedding cache lacks (None: that encoder,
    in this process); the model still loads here, for its dimension and paragraph length.
    `backend` names the backend of a new index (recorded in the folder); None keeps the
    folder's. Raises IndexBusy when another writer runs, SeedsNotFound, IndexIncompatible
    (model differs, no rebuild).
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if load_encoder is None:
        load_encoder = partial(_load_encoder, settings)
    report = progress or (lambda stage, done, total: None)
    seeds_dir, index_dir = Path(seeds_dir), Path(index_dir)
    store, chosen = _backend_for(index_dir, settings, backend, backend_options, rebuild)
    with _writer_lock(store, index_dir):
        store.collect_garbage()
        previous = None if rebuild else _live_catalog(store)
        if previous is not None and previous.model != settings.model:
            raise IndexIncompatible(
                f"{index_dir} was built with model {previous.model!r}, not {settings.model!r}:"
                f" pass --model {previous.model} or --rebuild to re-embed everything"
            )
        summary = IndexSummary()
        files, problems = scan_seeds(seeds_dir)
        summary.problems.extend(problems)
        run = _Run(seeds_dir, settings, previous, detector or LanguageDetector(), summary,
                   report, load_encoder, embed)
        run.collect(files, problems)
        if previous is not None and not run.has_changes():
            summary.generation = previous.name
        else:
            summary.generation = _write(store, run, index_dir, previous, report)
            store.collect_garbage()
        if chosen is not None:  # only now: until the new backend has a generation, the old
            record(index_dir, *chosen)  # record keeps serving the old index
        summary.seconds = time.perf_counter() - started
        return summary


@contextmanager
def _writer_lock(backend: Backend, index_dir: Path) -> Iterator[None]:
    """The backend's writer lock; a folder that cannot be written (a read-only file system, a
    full disk, a missing permission) is one clear IndexUnwritable."""
    with ExitStack() as stack:
        try:
            stack.enter_context(backend.writer_lock())
        except OSError as exc:
            raise unwritable(exc, index_dir, index_dir, None) from exc
        yield


def _backend_for(index_dir: Path, settings: Settings, name: str | None,
                 options: dict[str, Any] | None, rebuild: bool
                 ) -> tuple[Backend, tuple[str, dict[str, Any] | None] | None]:
    """The backend to write, and what to record in the folder when that changes. Moving an
    existing index to another backend or location takes --rebuild."""
    recorded_name, recorded_options = recorded(index_dir)
    if name is None or (name == recorded_name and not options):
        return open_backend(index_dir, settings), None
    if (name, options or {}) == (recorded_name, recorded_options):
        return open_backend(index_dir, settings), None
    if not rebuild:
        existing = create_backend(recorded_name, index_dir, recorded_options, settings)
        if existing.current() is not None:
            raise IndexIncompatible(
                f"{index_dir} holds an index on the {recorded_name} backend"
                f"{_where(recorded_options)}: pass --rebuild to build it anew on {name}"
                f"{_where(options)}, or leave out --backend")
    return create_backend(name, index_dir, options, settings), (name, options)


def _where(options: dict[str, Any] | None) -> str:
    return f" at {options['location']}" if options and options.get("location") else ""


def _load_encoder(settings: Settings) -> Encoder:
    from search.encoders.loading import load_encoder  # imports torch: only when needed

    return load_encoder(settings.model, settings.threads)


def _live_catalog(backend: Backend) -> Catalog | None:
    name = backend.current()
    return backend.catalog(name) if name else None


def _write(backend: Backend, run: _Run, index_dir: Path, previous: Catalog | None,
           report: Progress) -> str:
    """Build and publish the next generation. The text side is written in a second thread
    while the vectors are computed: the encoder's matrix code releases the GIL, so the two
    overlap on a multi-core CPU."""
    writer = backend.begin(previous, report)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-side") as pool:
            text_side = pool.submit(_write_text, writer, run.stale_pids(), run.new_articles)
            try:
                pids, vectors, dim = run.embed(index_dir / "cache" / "embeddings.sqlite")
            finally:
                text_side.result()
        writer.add_vectors(pids, vectors)
        catalog = run.catalog(writer.number, dim)
        writer.publish(catalog)
        return catalog.name
    finally:
        writer.close()


def _write_text(writer: GenerationWriter, stale: list[int], new: list[NewArticle]) -> None:
    writer.remove(stale)
    writer.add(new)


class _Run:
    """The state of one index update, from the seed scan to the catalog it publishes."""

    def __init__(self, seeds_dir: Path, settings: Settings, previous: Catalog | None,
                 detector: LanguageDetector, summary: IndexSummary, report: Progress,
                 load_encoder: Callable[[], Encoder], embed: Embed | None = None) -> None:
        self.seeds_dir = seeds_dir
        self.settings = settings
        self.previous = previous
        self.detector = detector
        self.summary = summary
        self.report = report
        self._load_encoder = load_encoder
        self._embed = embed or self._embed_here
        self.next_pid = previous.next_pid if previous else 1
        self.files: dict[str, FileEntry] = dict(previous.files) if previous else {}
        self.new_articles: list[NewArticle] = []
        self.new_files: dict[str, FileEntry] = {}
        self.removed_paths: list[str] = []

    @cached_property
    def encoder(self) -> Encoder:
        return self._load_encoder()

    # -- what changed ----------------------------------------------------------------------
    def collect(self, files: list[SeedFile], problems: list[Problem]) -> None:
        seen = {f.path for f in files} | {p.path for p in problems}
        self.removed_paths = [path for path in self.files if path not in seen]
        for path in self.removed_paths:
            self.summary.removed += len(self.files[path].articles)
        self.summary.skipped = len(problems)
        for number, seed_file in enumerate(files, start=1):
            self.report("reading", number, len(files))
            old = self.files.get(seed_file.path)
            if old is not None and old.hash == seed_file.content_hash:
                self.summary.unchanged += len(old.articles)
                continue
            try:
                articles = read_articles(self.seeds_dir, seed_file)
            except UnreadableFile as exc:
                self.summary.problems.append(Problem(seed_file.path, str(exc)))
                self.summary.skipped += 1
                continue
            if old is None:
                self.summary.added += len(articles)
            else:
                self.summary.changed += len(articles)
                self.removed_paths.append(seed_file.path)
            if articles:
                self._add_file(seed_file, articles)

    def _add_file(self, seed_file: SeedFile, articles: list[Article]) -> None:
        first_pid = self.next_pid
        new = [self._new_article(article) for article in articles]
        self.new_articles.extend(new)
        languages = Counter(p.lang for article in new for p in article.paragraphs)
        self.new_files[seed_file.path] = FileEntry(
            seed_file.content_hash, tuple(article.id for article in articles),
            self.next_pid - first_pid, dict(sorted(languages.items())), first_pid,
        )

    def _new_article(self, article: Article) -> NewArticle:
        max_chars = min(self.settings.max_paragraph_chars, self.encoder.info.max_chars)
        chunks = split_paragraphs(article.text, max_chars, self.settings.min_paragraph_words)
        stated = normalize_code(article.lang) if article.lang else None
        paragraphs = []
        for chunk in chunks:
            lang = stated or self.detector.detect(chunk.text)
            paragraphs.append(NewParagraph(self.next_pid, chunk.position, chunk.start,
                                           chunk.end, chunk.text, lang))
            self.next_pid += 1
        return NewArticle(article.id, article.path, article.title, article.date, article.place,
                          article.source, article.url, article.lang, tuple(paragraphs))

    def has_changes(self) -> bool:
        return bool(self.new_articles or self.removed_paths)

    def stale_pids(self) -> list[int]:
        """Paragraph ids of the previous versions of removed and changed files."""
        pids = [pid for path in self.removed_paths for pid in self.files[path].pids]
        self.summary.paragraphs_removed = len(pids)
        return pids

    # -- vectors -----------------------------------------------------------------------------
    def embed(self, cache_path: Path) -> tuple[np.ndarray, np.ndarray, int]:
        """(pids, vectors, dimension) of the new paragraphs, from the cache or the encoder."""
        paragraphs = [p for article in self.new_articles for p in article.paragraphs]
        self.summary.paragraphs_added = len(paragraphs)
        cache = EmbeddingCache(cache_path, self.settings.model)
        try:
            hashes = [text_hash(p.text) for p in paragraphs]
            dim = self.previous.dim if self.previous else self.encoder.info.dim
            known = cache.get_many(hashes, dim)
            missing = list(dict.fromkeys(h for h in hashes if h not in known))
            texts = {h: p.text for h, p in zip(hashes, paragraphs, strict=True)}
            if missing:
                done = 0
                blocks = self._embed([texts[h] for h in missing])
                for found in _checked(blocks, len(missing), dim):
                    chunk = missing[done : done + len(found)]
                    new = dict(zip(chunk, found, strict=True))
                    cache.put_many(new)  # kept even if a later block fails
                    known.update(new)
                    done += len(chunk)
                    self.report("embedding", done, len(missing))
            self.summary.paragraphs_embedded = len(missing)
            vectors = np.zeros((len(paragraphs), dim), dtype=np.float32)
            for row, h in enumerate(hashes):
                vectors[row] = known[h]
            return np.array([p.pid for p in paragraphs], dtype=np.int64), vectors, dim
        finally:
            cache.close()
            if cache.warning is not None:
                self.summary.warnings.append(cache.warning)

    def _embed_here(self, texts: Sequence[str]) -> Iterator[np.ndarray]:
        batch = max(self.settings.batch_size, 1)
        for start in range(0, len(texts), batch * 4):
            yield self.encoder.encode(texts[start : start + batch * 4], batch)

    # -- the new generation ----------------------------------------------------------------
    def catalog(self, number: int, dim: int) -> Catalog:
        removed = set(self.removed_paths)
        files = {path: entry for path, entry in self.files.items() if path not in removed}
        files.update(self.new_files)
        return Catalog(
            generation=number,
            model=self.settings.model,
            dim=dim,
            settings=self.settings.to_dict(),
            next_pid=self.next_pid,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            files=files,
        )


def _checked(blocks: Iterable[np.ndarray], total: int, dim: int) -> Iterator[np.ndarray]:
    """The blocks of an Embed, refused unless they are rows of `dim` adding up to `total`."""
    done = 0
    for block in blocks:
        if block.ndim != 2 or block.shape[1] != dim or done + len(block) > total:
            raise EmbeddingFailed(f"the embedder returned {block.shape} after {done} of "
                                  f"{total} rows of {dim}")
        done += len(block)
        yield block
    if done != total:
        raise EmbeddingFailed(f"the embedder returned {done} of {total} rows")
