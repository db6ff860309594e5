"""The vectors of the new paragraphs, computed as their articles arrive from the reader.

Each text comes from the embedding cache when it is there; the others are embedded in blocks
in the order they first appear (a text that occurs twice is embedded once), and each block is
cached as soon as it is back, so a run that fails later keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from search.encoders.base import Embed
from search.errors import EmbeddingFailed
from search.index.embedding_cache import EmbeddingCache, text_hash
from search.records import NewArticle, Progress


@dataclass(frozen=True)
class NewVectors:
    pids: np.ndarray  # int64, the new paragraphs in the order they arrived
    vectors: np.ndarray  # float32 unit rows, one per pid
    embedded: int  # texts the cache lacked
    langs: tuple[str, ...]  # the language of each pid


class VectorStage:
    """Vectors of a stream of new articles. `block` texts go to `embed` at a time, as soon as
    that many are waiting; None sends all of them in one call at the end (an Embed that runs
    one job for all its texts, such as Ray's)."""

    def __init__(self, cache: EmbeddingCache, dim: int, embed: Embed, block: int | None,
                 report: Progress) -> None:
        self.cache = cache
        self.dim = dim
        self._embed = embed
        self._block = block
        self._report = report
        self._known: dict[str, np.ndarray] = {}
        self._queued: set[str] = set()  # hashes embedded or waiting to be
        self._waiting: list[tuple[str, str]] = []  # (hash, text) to embed, in order
        self._unlooked: list[tuple[str, str]] = []  # not yet looked up in the cache
        self._missing = 0
        self._done = 0

    def run(self, articles: Iterable[NewArticle]) -> NewVectors:
        pids: list[int] = []
        langs: list[str] = []
        hashes: list[str] = []
        lookup = self._block or 256
        for article in articles:
            for paragraph in article.paragraphs:
                h = text_hash(paragraph.text)
                pids.append(paragraph.pid)
                langs.append(paragraph.lang)
                hashes.append(h)
                self._unlooked.append((h, paragraph.text))
            if len(self._unlooked) >= lookup:
                self._look_up()
            while self._block and len(self._waiting) >= self._block:
                self._embed_waiting(self._block)
        self._look_up()
        if self._waiting:
            self._embed_waiting(len(self._waiting))
        vectors = np.zeros((len(hashes), self.dim), dtype=np.float32)
        for row, h in enumerate(hashes):
            vectors[row] = self._known[h]
        return NewVectors(np.array(pids, dtype=np.int64), vectors, self._missing, tuple(langs))

    def _look_up(self) -> None:
        fresh = [(h, text) for h, text in dict(self._unlooked).items()
                 if h not in self._known and h not in self._queued]
        self._unlooked.clear()
        if not fresh:
            return
        self._known.update(self.cache.get_many((h for h, _ in fresh), self.dim))
        for h, text in fresh:
            if h not in self._known:
                self._queued.add(h)
                self._waiting.append((h, text))
                self._missing += 1

    def _embed_waiting(self, count: int) -> None:
        chunk, self._waiting = self._waiting[:count], self._waiting[count:]
        if self._done == 0:
            self._report("embedding", 0, self._missing)
        done = 0
        blocks = self._embed([text for _, text in chunk])
        for found in checked(blocks, len(chunk), self.dim):
            new = {h: row for (h, _), row in zip(chunk[done : done + len(found)], found,
                                                    strict=True)}
            self.cache.put_many(new)  # kept even if a later block fails
            self._known.update(new)
            done += len(found)
            self._done += len(found)
            self._report("embedding", self._done, self._missing)


def checked(blocks: Iterable[np.ndarray], total: int, dim: int) -> Iterator[np.ndarray]:
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
