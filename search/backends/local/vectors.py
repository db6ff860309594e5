"""The vectors of a local generation: read from the segments' .npy files, checked, and put
into FAISS (exact search, beside an HNSW graph when the index is large)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from search.backends.local.dense import DenseIndex, GraphVectors, load_hnsw
from search.backends.local.manifest import REBUILD_HINT, Manifest
from search.backends.local.segments import read_segment, read_vectors
from search.backends.local.store import IndexStore
from search.errors import IndexCorrupt
from search.records import NewArticle

# Vectors are read, checked against the graph and copied this many file rows at a time
# (8 MB at 512 dimensions), so that loading never holds a second copy of all of them.
CHUNK_ROWS = 4096


def live_records(store: IndexStore, manifest: Manifest
                 ) -> Iterator[tuple[str, int, NewArticle]]:
    """(segment, row of its first paragraph, article) for each live article."""
    for segment, article_ids in manifest.live_articles().items():
        row = 0
        for article in read_segment(store.segments, segment):
            if article.id in article_ids:
                yield segment, row, article
            row += len(article.paragraphs)


def live_vectors(store: IndexStore, manifest: Manifest) -> tuple[np.ndarray, np.ndarray]:
    """Paragraph ids and vectors of every live paragraph of a generation."""
    pids: list[int] = []
    parts: list[np.ndarray] = []
    vectors_of: dict[str, np.ndarray] = {}
    for segment, row, article in live_records(store, manifest):
        if segment not in vectors_of:
            vectors_of[segment] = read_vectors(store.segments, segment, manifest.dim)
        count = len(article.paragraphs)
        pids.extend(p.pid for p in article.paragraphs)
        parts.append(np.asarray(vectors_of[segment][row : row + count]))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, manifest.dim), dtype=np.float32)
    vectors = np.concatenate(parts)
    if len(vectors) != len(pids):
        raise IndexCorrupt(f"{store.root}: vectors and paragraphs disagree; {REBUILD_HINT}")
    if not unit_rows(vectors).all():  # bytes garbled inside a file whose header is intact
        raise IndexCorrupt(f"{store.root}: the vector files are damaged; {REBUILD_HINT}")
    return np.array(pids, dtype=np.int64), vectors


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Which rows are finite and of length 1 (or all zero), as every encoder writes them."""
    with np.errstate(over="ignore", invalid="ignore"):  # garbage overflows: it is not unit
        norms = np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1)
        return (np.abs(norms - 1.0) <= 1e-3) | (norms == 0.0)


def spans(rows: np.ndarray, limit: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Split ascending row numbers into file spans of at most ``limit`` rows:
    (first row of the span, end of the span, the rows in it)."""
    start = 0
    while start < len(rows):
        first = int(rows[start])
        stop = int(np.searchsorted(rows, first + limit, side="left"))
        yield first, int(rows[stop - 1]) + 1, rows[start:stop]
        start = stop


def _live_vector_chunks(store: IndexStore, manifest: Manifest,
                        vector_rows: list[tuple[str, np.ndarray]]) -> Iterator[np.ndarray]:
    """The live vectors in index order, a span of the files at a time. Spans are read with
    plain reads, not through the memory map, whose pages would stay resident until the end."""
    files = []
    for segment, rows in vector_rows:
        mapped = read_vectors(store.segments, segment, manifest.dim)  # checks the header and shape
        if rows[-1] >= len(mapped):
            raise IndexCorrupt(f"{store.root}: vectors and paragraphs disagree; {REBUILD_HINT}")
        files.append((mapped, rows))
    row_bytes = manifest.dim * 4
    for mapped, rows in files:
        filename = mapped.filename  # None only for a map of something other than a file
        if filename is None or not mapped.flags.c_contiguous:
            # Not written by IndexStore: read it the slow way.
            yield from (np.array(mapped[wanted]) for _, _, wanted in spans(rows, CHUNK_ROWS))
            continue
        with open(filename, "rb") as handle:
            for first, end, wanted in spans(rows, CHUNK_ROWS):
                size = (end - first) * row_bytes
                data = os.pread(handle.fileno(), size, mapped.offset + first * row_bytes)
                if len(data) != size:  # shorter than its header says, since it was mapped
                    raise IndexCorrupt(f"{filename} cannot be read; {REBUILD_HINT}")
                span = np.frombuffer(data, dtype=np.float32).reshape(-1, manifest.dim)
                yield span[wanted - first]


def load_dense(store: IndexStore, manifest: Manifest,
               vector_rows: list[tuple[str, np.ndarray]], pids: np.ndarray) -> DenseIndex:
    """The dense side: the HNSW graph, if any, checked against the live vectors, and the live
    vectors it lacks, searched exactly."""
    graph = None
    if manifest.ann is not None:
        path = store.segments / manifest.ann
        graph = GraphVectors(load_hnsw(path))
        damaged = IndexCorrupt(f"the vector graph {path} is damaged; {REBUILD_HINT}")
        if graph.dim != manifest.dim:
            raise damaged
    outside = ~graph.covers(pids) if graph is not None else np.ones(len(pids), dtype=bool)
    exact = np.empty((int(outside.sum()), manifest.dim), dtype=np.float32)
    done = filled = 0
    for vectors in _live_vector_chunks(store, manifest, vector_rows):
        if not unit_rows(vectors).all():  # bytes garbled inside a file whose header is intact
            raise IndexCorrupt(f"{store.root}: the vector files are damaged; {REBUILD_HINT}")
        chunk = slice(done, done + len(vectors))
        if graph is not None and graph.mismatches(pids[chunk], vectors):
            raise damaged  # bytes garbled that FAISS's checks pass
        keep = outside[chunk]
        exact[filled : filled + int(keep.sum())] = vectors[keep]
        filled += int(keep.sum())
        done += len(vectors)
    if graph is None:
        return DenseIndex(manifest.dim, pids, exact)
    return DenseIndex(
        manifest.dim, pids[outside], exact, graph.index, np.setdiff1d(graph.ids, pids))
