"""Bring an index up to date with seeds/: one complete new generation per run, or none.

Only added and changed files are read, chunked and embedded (and embeddings of unchanged
paragraph texts come from the cache); removed files disappear. A file that cannot be read
is reported and skipped; if an earlier version of it was indexed, that version stays. The
updater works on any backend: it compares seeds/ with the live generation's catalog and
hands the differences to the backend's writer. (~340 lines: the run's stages read top to
bottom; the stages themselves are in index/pipeline.py, vectors.py, groups.py and removal.py.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from search.alerts.watch import after_publish
from search.backends import record
from search.backends.base import Backend, GenerationWriter
from search.backends.oserrors import unwritable
from search.config import Settings
from search.encoders.base import Embed, Encoder
from search.encoders.centering import LanguageCentroids
from search.errors import IndexIncompatible, SearchError, SeedsNotFound
from search.index.centroids import next_centroids
from search.index.destination import backend_for
from search.index.embedding_cache import EmbeddingCache
from search.index.groups import NewPassages, update_groups
from search.index.pipeline import ReadAhead, Reading, Stopped, ToRead
from search.index.removal import check_removal
from search.index.summary import IndexSummary
from search.index.vectors import NewVectors, VectorStage
from search.ingest.article import ReadLimits
from search.ingest.language import LanguageDetector
from search.ingest.seeds import Problem, SeedFile, scan_seeds
from search.records import Catalog, FileEntry, Progress


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
    allow_removal: bool = False,
) -> IndexSummary:
    """Index seeds_dir into index_dir and switch readers to the result.

    load_encoder is called only if something needs embedding (None: the settings' model).
    `embed` computes the vectors of the texts the embedding cache lacks (None: that encoder,
    in this process); the model still loads here, for its dimension and paragraph length.
    `backend` names the backend of a new index (recorded in the folder); None keeps the
    folder's. Raises IndexBusy when another writer runs, SeedsNotFound, IndexIncompatible
    (model differs, no rebuild), RemovalRefused (the run would remove all or most of the
    index's articles; `allow_removal` lets it).
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if load_encoder is None:
        load_encoder = partial(_load_encoder, settings)
    report = progress or (lambda stage, done, total: None)
    seeds_dir, index_dir = Path(seeds_dir), Path(index_dir)
    inside = _index_inside(seeds_dir, index_dir)
    store, chosen = backend_for(index_dir, settings, backend, backend_options, rebuild)
    with _writer_lock(store, index_dir):
        store.collect_garbage()
        live = _catalog_if_readable(store) if rebuild else _live_catalog(store)
        previous = None if rebuild else live
        if previous is not None and previous.model != settings.model:
            raise IndexIncompatible(
                f"{index_dir} was built with model {previous.model!r}, not {settings.model!r}:"
                f" pass --model {previous.model} or --rebuild to re-embed everything"
            )
        summary = IndexSummary()
        if inside is not None:
            summary.warnings.append(f"the index folder {index_dir} lies inside the seeds "
                                    f"folder {seeds_dir}: its files are not read as articles")
        files, problems = scan_seeds(seeds_dir, inside, ReadLimits(
            settings.max_file_bytes, settings.max_elements))
        if not allow_removal:
            check_removal(live, {f.path for f in files} | {p.path for p in problems},
                          settings.max_removal_share, rebuild, seeds_dir, index_dir)
        summary.problems.extend(problems)
        run = _Run(seeds_dir, settings, previous, detector or LanguageDetector(), summary,
                   report, load_encoder, embed)
        run.compare(files, problems)
        if previous is not None and not (run.to_read or run.removed_paths):
            summary.generation = previous.name
        else:
            written = _write(store, run, index_dir, previous, report)
            summary.generation = written or (previous.name if previous else None)
            store.collect_garbage()
        if chosen is not None:  # only now: until the new backend has a generation, the old
            record(index_dir, *chosen)  # record keeps serving the old index
        summary.seconds = time.perf_counter() - started
    # After the writer lock: delivery may wait on a slow server, and must not hold up writers.
    summary.warnings += after_publish(index_dir, store, settings, lambda: run.encoder,
                                      run.added, rebuilt=rebuild).warnings
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


def _load_encoder(settings: Settings) -> Encoder:
    from search.encoders.loading import load_encoder  # imports torch: only when needed

    return load_encoder(settings.model, settings.threads, precision=settings.precision,
                        model_cache=settings.model_cache)


def _live_catalog(backend: Backend) -> Catalog | None:
    name = backend.current()
    return backend.catalog(name) if name else None


def _index_inside(seeds_dir: Path, index_dir: Path) -> Path | None:
    """The index folder if it lies inside the seeds folder (its files are then not read);
    SeedsNotFound if the seeds folder is the index folder or inside it."""
    seeds, index = seeds_dir.resolve(), index_dir.resolve()
    if seeds == index or seeds.is_relative_to(index):
        raise SeedsNotFound(f"the seeds folder {seeds_dir} is the index folder {index_dir} or "
                            "inside it: pass --seeds with the folder that holds the articles")
    return index if index.is_relative_to(seeds) else None


def _catalog_if_readable(backend: Backend) -> Catalog | None:
    """The live catalog for the removal guard of a rebuild, which must work on a damaged or
    incompatible index too."""
    try:
        return _live_catalog(backend)
    except (SearchError, OSError):
        return None


def _write(backend: Backend, run: _Run, index_dir: Path, previous: Catalog | None,
           report: Progress) -> str | None:
    """Build and publish the next generation; None when reading found nothing to change
    after all (every changed file unreadable). Three threads overlap: the reader runs ahead,
    this thread embeds, and the keyword side is written meanwhile (the encoder's matrix code
    releases the GIL)."""
    writer = backend.begin(previous, report)
    try:
        with run.read_ahead() as ahead, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyword-side") as pool:
            text_side = pool.submit(_write_text, writer, run, ahead)
            try:
                new = run.embed(ahead, index_dir / "cache" / "embeddings.sqlite")
            except BaseException:
                ahead.stop()
                failure = text_side.exception()
                if failure is not None and not isinstance(failure, Stopped):
                    raise failure from None  # the cause; this thread was only stopped by it
                raise
            text_side.result()
        run.added = (new.pids, new.vectors)
        run.read(ahead.reading)
        if previous is not None and not run.has_changes():
            return None
        writer.add_vectors(new.pids, new.vectors)
        centroids = _after_previous(backend, writer, run, previous, new)
        catalog = run.catalog(writer.number, run.dim, centroids)
        writer.publish(catalog)
        return catalog.name
    finally:
        writer.close()


def _after_previous(backend: Backend, writer: GenerationWriter, run: _Run,
                    previous: Catalog | None, new: NewVectors) -> LanguageCentroids:
    """What the new generation owes the previous one, read through one reader of it: its
    language statistics, and the translation groups of what changed."""
    reader = backend.open(previous.name) if previous is not None else None
    try:
        centroids = next_centroids(reader, run.kept_pids(), run.dropped_pids(), new)
        run.summary.grouping_seconds = update_groups(
            writer, reader, run.dropped_pids(), run.passages, new.pids, new.vectors, centroids)
        return centroids
    finally:
        if reader is not None:
            reader.close()


def _write_text(writer: GenerationWriter, run: _Run, ahead: ReadAhead) -> None:
    """The keyword side: removed files out, new articles in as they are read, then the old
    versions of changed files (known once they have been read) out."""
    try:
        writer.remove(run.removed_pids())
        writer.add(ahead.for_keywords())
        writer.remove(_pids_of(ahead.reading.replaced, run.files))
    except BaseException:
        ahead.stop()
        raise


def _pids_of(paths: Iterable[str], files: dict[str, FileEntry]) -> list[int]:
    return [pid for path in paths for pid in files[path].pids]


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
        self._embed = embed
        self.files: dict[str, FileEntry] = dict(previous.files) if previous else {}
        self.to_read: list[ToRead] = []
        self.removed_paths: list[str] = []  # gone from seeds/
        self.reading = Reading(previous.next_pid if previous else 1)
        self.passages = NewPassages()  # the new paragraphs as translation grouping needs them
        self.added: tuple[np.ndarray, np.ndarray] | None = None  # pids and vectors, once known

    @cached_property
    def encoder(self) -> Encoder:
        return self._load_encoder()

    @property
    def dim(self) -> int:
        return self.previous.dim if self.previous else self.encoder.info.dim

    # -- what changed ----------------------------------------------------------------------
    def compare(self, files: list[SeedFile], problems: list[Problem]) -> None:
        """Find removed files and the files to read (new, or changed since the catalog)."""
        seen = {f.path for f in files} | {p.path for p in problems}
        self.removed_paths = [path for path in self.files if path not in seen]
        for path in self.removed_paths:
            self.summary.removed += len(self.files[path].articles)
        self.summary.skipped = len(problems)
        for seed_file in files:
            old = self.files.get(seed_file.path)
            if old is not None and old.hash == seed_file.content_hash:
                self.summary.unchanged += len(old.articles)
            else:
                self.to_read.append(ToRead(seed_file, old is not None))

    def read_ahead(self) -> ReadAhead:
        return ReadAhead(self.seeds_dir, self.to_read, self.reading.next_pid,
                         self.settings.min_paragraph_words, self.detector, self.report)

    def read(self, reading: Reading) -> None:
        """Take what the reader found once it has finished."""
        self.reading = reading
        self.summary.added += reading.added
        self.summary.changed += reading.changed
        self.summary.records_skipped += reading.records_skipped
        self.summary.warnings.extend(reading.notes)
        self.summary.skipped += len(reading.problems)
        self.summary.problems.extend(sorted([*reading.problems, *reading.losses],
                                            key=lambda p: p.path))
        self.summary.paragraphs_removed = len(self.dropped_pids())

    def has_changes(self) -> bool:
        """After reading: anything to add or remove."""
        return bool(self.reading.new_files or self.reading.replaced or self.removed_paths)

    def removed_pids(self) -> list[int]:
        """Paragraph ids of the files gone from seeds/."""
        return _pids_of(self.removed_paths, self.files)

    def dropped_pids(self) -> list[int]:
        """After reading: the previous generation's paragraphs the new one leaves out."""
        return _pids_of([*self.removed_paths, *self.reading.replaced], self.files)

    def kept_pids(self) -> list[int]:
        """After reading: the previous generation's paragraphs the new one keeps."""
        dropped = {*self.removed_paths, *self.reading.replaced}
        return _pids_of([path for path in self.files if path not in dropped], self.files)

    # -- vectors -----------------------------------------------------------------------------
    def embed(self, ahead: ReadAhead, cache_path: Path) -> NewVectors:
        """The new paragraphs' vectors, from the cache or the encoder, as the reader makes
        them. The model loads here while the reader starts on the first file."""
        if self.to_read:
            ahead.set_max_chars(lambda: min(self.settings.max_paragraph_chars,
                                            self.encoder.info.max_chars))
        cache = EmbeddingCache(cache_path, self.settings.model)
        try:
            block = None if self._embed else max(self.settings.batch_size, 1) * 4
            stage = VectorStage(cache, self.dim, self._embed or self._embed_here, block,
                                self.report)
            new = stage.run(self.passages.noting(ahead.for_vectors()))
            self.summary.paragraphs_added = len(new.pids)
            self.summary.paragraphs_embedded = new.embedded
            return new
        finally:
            cache.close()
            if cache.warning is not None:
                self.summary.warnings.append(cache.warning)

    def _embed_here(self, texts: Sequence[str]) -> Iterator[np.ndarray]:
        batch = max(self.settings.batch_size, 1)
        for start in range(0, len(texts), batch * 4):
            yield self.encoder.encode(texts[start : start + batch * 4], batch)

    # -- the new generation ----------------------------------------------------------------
    def catalog(self, number: int, dim: int, centroids: LanguageCentroids) -> Catalog:
        removed = {*self.removed_paths, *self.reading.replaced}
        files = {path: entry for path, entry in self.files.items() if path not in removed}
        files.update(self.reading.new_files)
        return Catalog(
            generation=number,
            model=self.settings.model,
            dim=dim,
            settings=self.settings,
            next_pid=self.reading.next_pid,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            files=files,
            precision=(self.encoder.info.precision if self.to_read
                       else self.previous.precision if self.previous else "fp32"),
            centroids=centroids,
        )
