"""Segment files: the articles one run added, one JSON line each (a `NewArticle` with its
paragraphs), and their vectors in a .npy file in the same order. Segments never change once
written; generations list the ones they use."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from search.backends.local.manifest import REBUILD_HINT
from search.backends.local.store import atomic_file, write_atomic
from search.errors import IndexCorrupt
from search.records import NewArticle


def parse_line(path: Path, line: bytes, number: int | str) -> NewArticle:
    """One segment line as its article; damage is IndexCorrupt naming the file and line."""
    try:
        return NewArticle.from_json(line)
    except (ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise IndexCorrupt(f"{path} line {number} is damaged; {REBUILD_HINT}") from exc


def segment_lines(path: Path, handle: BinaryIO) -> Iterator[tuple[int, int, NewArticle]]:
    """(byte offset, byte length, article) of each line of an open segment file."""
    offset = 0
    for number, line in enumerate(handle, start=1):
        yield offset, len(line), parse_line(path, line, number)
        offset += len(line)


def read_segment(folder: Path, segment: str) -> Iterator[NewArticle]:
    """The articles of a segment, in order."""
    path = folder / f"{segment}.jsonl"
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, after the last record
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc
    with handle:
        for _offset, _length, article in segment_lines(path, handle):
            yield article


def read_vectors(folder: Path, segment: str, dim: int) -> np.memmap:
    """A segment's vectors, memory-mapped and checked for shape."""
    path = folder / f"{segment}.npy"
    try:
        vectors = np.load(path, mmap_mode="r", allow_pickle=False)
    except PermissionError:
        raise  # not damage: a rebuild would not help
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc
    if vectors.ndim != 2 or vectors.shape[1] != dim or vectors.dtype != np.float32:
        raise IndexCorrupt(f"{path} holds vectors of the wrong shape; {REBUILD_HINT}")
    return vectors


def write_segment(folder: Path, segment: str, articles: Sequence[NewArticle],
                  vectors: np.ndarray) -> None:
    """Write a segment's two files, each atomically and durably."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(article.to_json() + "\n" for article in articles)
    write_atomic(folder / f"{segment}.jsonl", lines.encode("utf-8"))
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    header = np.lib.format.header_data_from_array_1_0(array)
    with atomic_file(folder / f"{segment}.npy") as handle:
        # np.save's bytes, written by Python's file: numpy's own writer reports a full disk
        # as an OSError without its errno.
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(array.data)
