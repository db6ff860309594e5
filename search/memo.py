"""Memos of text analysis (a word's term, stem and Latin form; a commit's near terms and document
frequencies) that share one budget in bytes per process.

Each memo used to be an lru_cache of its own size, one per language, per analyzer mode and per
commit: their product grew with every language a query was analysed in, and 2,000-character
queries of unique words took a server from 0.8 to 2.0 GB. One least-recently-used store for all
of them bounds the sum, whatever the number of languages or commits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from itertools import count
from sys import getsizeof
from typing import Any, TypeVar

# The memos' total, in bytes as estimated below (README, "Memory"). At ~200 bytes an entry this
# holds ~160,000 words' analyses: a query's words stay remembered across a burst of queries.
MEMO_BYTES = 32 * 2**20
_ENTRY = 120  # the store's own bytes per entry: its key tuple and the dict's slot

R = TypeVar("R")


def size_of(value: Any) -> int:
    """Bytes `value` takes, counting strings and containers of them (shared singletons such as
    None and small ints count nothing)."""
    kind = type(value)
    if kind is str or kind is bytes:
        return getsizeof(value)
    if kind is tuple or kind is list or kind is frozenset or kind is set:
        return getsizeof(value) + sum(map(size_of, value))
    if kind is dict:
        return getsizeof(value) + sum(map(size_of, value.items()))
    return 0 if value is None or kind is bool else getsizeof(value)


class MemoStore:
    """One least-recently-used store of function results, at most `max_bytes` in all."""

    def __init__(self, max_bytes: int = MEMO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._tags = count()

    def __len__(self) -> int:
        return len(self._entries)

    def memoize(self, function: Callable[..., R]) -> Callable[..., R]:
        """`function` (of hashable positional arguments) remembered in this store."""
        tag = next(self._tags)
        entries = self._entries

        def remembered(*args: Hashable) -> R:
            key = (tag, args)
            found = entries.get(key)
            if found is not None:
                try:  # one C call under the GIL; another thread may just have evicted it
                    entries.move_to_end(key)
                except KeyError:
                    pass
                return found[0]
            value = function(*args)
            self._add(key, value, _ENTRY + size_of(args) + size_of(value))
            return value

        remembered.__wrapped__ = function  # type: ignore[attr-defined]
        return remembered

    def _add(self, key: Hashable, value: object, size: int) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes and self._entries:
                _, (_, gone) = self._entries.popitem(last=False)
                self.bytes -= gone

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0


ANALYSIS = MemoStore()  # the process's one store for every analysis memo


def memo(function: Callable[..., R]) -> Callable[..., R]:
    """`function` remembered in the process's analysis store (a decorator)."""
    return ANALYSIS.memoize(function)
