"""A backend that counts the calls made on the readers it opens, over any other backend."""

from __future__ import annotations

from collections import Counter
from typing import Any

from search.backends.base import Backend, GenerationReader


class CountingReader:
    """A reader that counts each call made on it by method name (`close` aside)."""

    def __init__(self, inner: GenerationReader, calls: Counter[str]) -> None:
        self._inner = inner
        self.calls = calls

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or name == "close":
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return value(*args, **kwargs)

        return counted


class CountingBackend:
    """`inner`, but each reader it opens counts its calls into `calls`."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def open(self, name: str) -> CountingReader:
        return CountingReader(self._inner.open(name), self.calls)
