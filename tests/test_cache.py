"""The LRU cache behind repeated queries."""

from __future__ import annotations

import threading

from search.lru import LRUCache


def test_least_recently_used_entry_goes_first():
    cache: LRUCache[str] = LRUCache(2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # now "b" is the least recently used
    cache.put("c", "C")
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == ("A", "C")
    assert len(cache) == 2 and (cache.hits, cache.misses) == (3, 1)


def test_capacity_zero_keeps_nothing():
    cache: LRUCache[str] = LRUCache(0)
    cache.put("a", "A")
    assert cache.get("a") is None and len(cache) == 0


def test_threads_never_exceed_the_capacity():
    cache: LRUCache[int] = LRUCache(50)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.put((offset, i % 80), i)
            cache.get((offset, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50
    assert cache.hits + cache.misses == 4 * 2000
