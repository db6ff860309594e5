"""A tiny in-memory backend: the `Backend` protocol in plain Python and numpy, for tests.

Brute-force cosine for the vector side, dictionary BM25 (k1 1.2, b 0.75, statistics per
analysis language) over title + text for the keyword side, filters through `Filters.admits`.
Generations live in a class-level dict keyed by the resolved index folder, so the updater and
the engine, which make their own backend objects, share them within one process.
"""

from __future__ import annotations

from .backend import MemoryBackend, MemoryWriter
from .generation import Generation, MemoryReader

__all__ = ["Generation", "MemoryBackend", "MemoryReader", "MemoryWriter"]
