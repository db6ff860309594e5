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
    # Prepended to queries and to paragraphs ("query: " / "passage: " for e5); empty for
    # models trained without prompts (usem3).
    query_prompt: str = ""
    passage_prompt: str = ""


class Embedder(Protocol):
    """What an Encoder runs: texts in, unit rows out (one thread at a time)."""

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray: ...


class Encoder:
    """Turns texts into L2-normalized float32 vectors; safe to share between threads.

    Paragraphs and queries may be embedded differently (the model's prompts, in `info`):
    `encode` is for paragraphs (what the index stores, and what paragraph-to-paragraph
    similarity compares), `encode_query` and `encode_queries` for what users ask.
    `encode_one`, if given, embeds one text faster than a batch of one would (the same vector
    up to rounding); single queries take it.
    """

    def __init__(self, model: Embedder, info: ModelInfo,
                 encode_one: Callable[[str], np.ndarray] | None = None) -> None:
        self.info = info
        self._model = model
        self._encode_one = encode_one
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed paragraphs as an (n, dim) float32 array of unit rows ((0, dim) for none)."""
        return self._encode(texts, self.info.passage_prompt, batch_size)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed queries as an (n, dim) float32 array of unit rows ((0, dim) for none)."""
        return self._encode(texts, self.info.query_prompt, batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query as a (dim,) float32 unit vector."""
        if self._encode_one is None:
            return self.encode_queries([text])[0]
        with self._lock:
            vector = self._encode_one(self.info.query_prompt + text)
        return np.ascontiguousarray(vector, dtype=np.float32)

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        prompted = [prompt + text for text in texts] if prompt else list(texts)
        with self._lock:
            vectors = self._model.encode(prompted, batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)
