"""Bring an index up to date with seeds/: one complete new generation per run, or none.

Only added and changed files are read, chunked and embedded (and embeddings of unchanged
paragraph texts come from the cache); removed files disappear. A file that cannot be read
is reported and skipped; if an earlier version of it was indexed, that version stays.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np

from search.backends.local.dense import HnswParams, build_hnsw, load_hnsw, save_hnsw
from search.backends.local.keyword import KeywordDoc, KeywordIndex
from search.backends.local.store import (
    REBUILD_HINT,
    EmbeddingCache,
    FileEntry,
    IndexStore,
    Manifest,
    generation_name,
)
from search.config import Settings
from search.encoders.loading import Encoder
from search.errors import IndexCorrupt, IndexIncompatible, UnreadableFile
from search.ingest.chunking import split_paragraphs
from search.ingest.language import LanguageDetector, normalize_code
from search.ingest.seeds import Article, Problem, SeedFile, read_articles, scan_seeds

# progress(stage, done, total): stages are "reading", "embedding" and "vectors" (HNSW build).
Progress = Callable[[str, int, int], None]


@dataclass
class IndexSummary:
    """What one `search index` run did."""

    added: int = 0  # articles
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0  # files
    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_embedded: int = 0  # not found in the embedding cache
    problems: list[Problem] = field(default_factory=list)
    generation: str | None = None
    seconds: float = 0.0

    @property
    def paragraphs_per_second(self) -> float:
        return self.paragraphs_added / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["problems"] = [asdict(p) for p in self.problems]
        data["paragraphs_per_second"] = round(self.paragraphs_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class _NewArticle:
    file: SeedFile
    article: Article
    paragraphs: list[dict]  # records: pid, position, start, end, text, lang


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def update_index(
    seeds_dir: Path,
    index_dir: Path,
    settings: Settings,
    load_encoder: Callable[[], Encoder],
    rebuild: bool = False,
    progress: Progress | None = None,
    detector: LanguageDetector | None = None,
) -> IndexSummary:
    """Index seeds_dir into index_dir and switch readers to the result.

    load_encoder is called only if something needs embedding. Raises IndexBusy when
    another writer runs, SeedsNotFound, IndexIncompatible (model differs, no rebuild).
    """
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    store = IndexStore(index_dir)
    with store.writer_lock():
        store.collect_garbage()
        previous = None if rebuild else _previous_manifest(store)
        if previous is not None and previous.model != settings.model:
            raise IndexIncompatible(
                f"{index_dir} was built with model {previous.model!r}, not {settings.model!r}:"
                f" pass --model {previous.model} or --rebuild to re-embed everything"
            )
        summary = IndexSummary()
        files, problems = scan_seeds(seeds_dir)
        summary.problems.extend(problems)
        run = _Run(store, seeds_dir, settings, previous, detector or LanguageDetector(), summary,
                   report, load_encoder)
        run.collect(files, problems)
        if previous is not None and not run.has_changes():
            summary.generation = previous.name
            summary.seconds = time.perf_counter() - started
            return summary
        run.count_old_files()
        run.embed_and_write()
        summary.generation = run.publish()
        store.collect_garbage()
        summary.seconds = time.perf_counter() - started
        return summary


def _previous_manifest(store: IndexStore) -> Manifest | None:
    name = store.current_name()
    return store.read_manifest(name) if name else None


class _Run:
    """The state of one index update, from the seed scan to the published generation."""

    def __init__(self, store, seeds_dir, settings, previous, detector, summary, report,
                 load_encoder) -> None:
        self.store: IndexStore = store
        self.seeds_dir: Path = seeds_dir
        self.settings: Settings = settings
        self.previous: Manifest | None = previous
        self.detector: LanguageDetector = detector
        self.summary: IndexSummary = summary
        self.report: Progress = report
        self._load_encoder: Callable[[], Encoder] = load_encoder
        self.number = (previous.generation + 1) if previous else self._next_number()
        self.segment = f"s{self.number:06d}"
        self.next_pid = previous.next_pid if previous else 1
        self.files: dict[str, FileEntry] = dict(previous.files) if previous else {}
        self.ann_next_pid = previous.ann_next_pid if previous else None
        self.new_articles: list[_NewArticle] = []
        self.new_files: dict[str, FileEntry] = {}
        self.removed_paths: list[str] = []

    def _next_number(self) -> int:
        existing = [
            int(p.name[1:7]) for p in self.store.generations.glob("g[0-9]*") if p.is_dir()
        ] if self.store.generations.exists() else []
        return max(existing, default=0) + 1

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
        new = [_NewArticle(seed_file, article, self._paragraphs(article)) for article in articles]
        self.new_articles.extend(new)
        languages = Counter(p["lang"] for article in new for p in article.paragraphs)
        self.new_files[seed_file.path] = FileEntry(
            seed_file.content_hash, self.segment, tuple(article.id for article in articles),
            self.next_pid - first_pid, dict(sorted(languages.items())), first_pid,
        )

    @cached_property
    def encoder(self) -> Encoder:
        return self._load_encoder()

    def has_changes(self) -> bool:
        return bool(self.new_articles or self.removed_paths)

    def _paragraphs(self, article: Article) -> list[dict]:
        records = []
        max_chars = min(self.settings.max_paragraph_chars, self.encoder.info.max_chars)
        chunks = split_paragraphs(article.text, max_chars, self.settings.min_paragraph_words)
        for chunk in chunks:
            if article.lang:
                lang = normalize_code(article.lang)
            else:
                lang = self.detector.detect(chunk.text)
            records.append(
                {"pid": self.next_pid, "position": chunk.position, "start": chunk.start,
                 "end": chunk.end, "text": chunk.text, "lang": lang}
            )
            self.next_pid += 1
        return records

    def count_old_files(self) -> None:
        """Fill in what an index written before manifests kept paragraph counts lacks: the
        counts of its files (from their segments) and the reach of its HNSW graph (from the
        graph). Done once: the next manifest keeps them."""
        uncounted = {path: entry for path, entry in self.files.items() if not entry.counted}
        owner = {article: path for path, entry in uncounted.items() for article in entry.articles}
        pids: dict[str, list[int]] = {path: [] for path in uncounted}
        languages: dict[str, Counter[str]] = {path: Counter() for path in uncounted}
        for segment in sorted({entry.segment for entry in uncounted.values()}):
            for record in self.store.read_segment(segment):
                path = owner.get(record["article"]["id"])
                if path is not None and uncounted[path].segment == segment:
                    pids[path].extend(p["pid"] for p in record["paragraphs"])
                    languages[path].update(p["lang"] for p in record["paragraphs"])
        for path, entry in uncounted.items():
            found = sorted(pids[path])
            first = found[0] if found else 0
            if found != list(range(first, first + len(found))):
                raise IndexCorrupt(f"{self.store.root}: the paragraph ids of {path} are not "
                                   f"consecutive; {REBUILD_HINT}")
            self.files[path] = replace(entry, paragraphs=len(found), first_pid=first,
                                       languages=dict(sorted(languages[path].items())))
        if self.previous and self.previous.ann and self.ann_next_pid is None:
            graph = load_hnsw(self.store.segments / self.previous.ann)
            covered = faiss.vector_to_array(graph.id_map)
            self.ann_next_pid = int(covered.max()) + 1 if len(covered) else 1

    # -- embedding, keyword and vector writing -----------------------------------------------
    def embed_and_write(self) -> None:
        """Embed and write vectors while the keyword index is written in a second thread:
        the encoder's matrix code releases the GIL, so the two overlap on a multi-core CPU."""
        paragraphs = [p for new in self.new_articles for p in new.paragraphs]
        self.summary.paragraphs_added = len(paragraphs)
        self.tmp_dir = self.store.new_generation_dir(generation_name(self.number))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="keywords") as pool:
            keywords = pool.submit(self._write_keywords)
            try:
                vectors, self.dim = self._embed(paragraphs)
                records = [
                    {"article": asdict(new.article), "paragraphs": new.paragraphs}
                    for new in self.new_articles
                ]
                if records:
                    self.store.write_segment(self.segment, records, vectors)
            finally:
                keywords.result()

    def _embed(self, paragraphs: list[dict]) -> tuple[np.ndarray, int]:
        cache = EmbeddingCache(self.store.root / "cache" / "embeddings.sqlite", self.settings.model)
        try:
            hashes = [text_hash(p["text"]) for p in paragraphs]
            known = cache.get_many(hashes)
            missing = list(dict.fromkeys(h for h in hashes if h not in known))
            texts = {h: p["text"] for h, p in zip(hashes, paragraphs, strict=True)}
            dim = self.previous.dim if self.previous else None
            if missing or dim is None:
                encoder = self.encoder
                dim = encoder.info.dim
                batch = max(self.settings.batch_size, 1) * 4
                for start in range(0, len(missing), batch):
                    chunk = missing[start : start + batch]
                    found = encoder.encode([texts[h] for h in chunk], self.settings.batch_size)
                    new = dict(zip(chunk, found, strict=True))
                    cache.put_many(new)
                    known.update(new)
                    self.report("embedding", start + len(chunk), len(missing))
            self.summary.paragraphs_embedded = len(missing)
            vectors = np.zeros((len(paragraphs), dim), dtype=np.float32)
            for row, h in enumerate(hashes):
                vectors[row] = known[h]
            return vectors, dim
        finally:
            cache.close()

    def _write_keywords(self) -> None:
        keyword_dir = self.tmp_dir / "keyword"
        if self.previous is not None:
            self.store.link_keyword_files(self.previous.name, self.tmp_dir)
            index = KeywordIndex.open(keyword_dir)
        else:
            index = KeywordIndex.create(keyword_dir)
        try:
            stale = self._stale_pids()
            if stale:
                index.remove(stale)
            for new in self.new_articles:
                index.add(
                    KeywordDoc(p["pid"], new.article.id, p["lang"], new.article.title, p["text"],
                               new.article.date, new.article.source)
                    for p in new.paragraphs
                )
            index.commit()
        finally:
            index.close()

    def _stale_pids(self) -> list[int]:
        """Paragraph ids of the previous versions of removed and changed files."""
        pids = [pid for path in self.removed_paths for pid in self.files[path].pids]
        self.summary.paragraphs_removed = len(pids)
        return pids

    # -- the new generation ----------------------------------------------------------------
    def publish(self) -> str:
        """Write the manifest from the files' counts (no segment is read) and switch to it."""
        removed = set(self.removed_paths)
        files = {path: entry for path, entry in self.files.items() if path not in removed}
        files.update(self.new_files)
        languages: Counter[str] = Counter()
        for entry in files.values():
            languages.update(entry.languages)
        manifest = Manifest(
            generation=self.number,
            model=self.settings.model,
            dim=self.dim,
            settings=self.settings.to_dict(),
            next_pid=self.next_pid,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            files=files,
            segments=tuple(sorted({entry.segment for entry in files.values()})),
            ann=self.previous.ann if self.previous else None,
            ann_next_pid=self.ann_next_pid,
            articles=sum(len(entry.articles) for entry in files.values()),
            paragraphs=sum(entry.paragraphs for entry in files.values()),
            languages=dict(sorted(languages.items())),
        )
        ann, ann_next_pid = self._ann_for(manifest)
        manifest = replace(manifest, ann=ann, ann_next_pid=ann_next_pid)
        self.store.publish(self.tmp_dir, manifest)
        return manifest.name

    def _ann_for(self, manifest: Manifest) -> tuple[str | None, int | None]:
        """Keep, build or drop the HNSW graph: built once the index reaches the threshold,
        rebuilt when a quarter of the live vectors are outside it. Returns the graph's file
        name and the next_pid it was built at. Keeping it needs only the manifest: the graph
        holds the live paragraphs numbered below its next_pid, and the files say how many
        those are. The vectors are read only to build a graph."""
        if manifest.paragraphs < self.settings.ann_threshold:
            return None, None
        if manifest.ann and manifest.ann_next_pid is not None:
            inside = sum(len(range(entry.first_pid, min(entry.pids.stop, manifest.ann_next_pid)))
                         for entry in manifest.files.values())
            if inside >= 0.75 * manifest.paragraphs:
                return manifest.ann, manifest.ann_next_pid
        from search.backends.local.reader import (
            live_vectors,  # the reader's view of which vectors are live
        )

        pids, vectors = live_vectors(self.store, manifest)
        self.report("vectors", 0, len(pids))
        params = HnswParams(self.settings.hnsw_m, self.settings.hnsw_ef_construction)
        name = f"ann-{manifest.name}.faiss"
        save_hnsw(build_hnsw(pids, vectors, params), self.store.segments / name)
        self.report("vectors", len(pids), len(pids))
        return name, manifest.next_pid
