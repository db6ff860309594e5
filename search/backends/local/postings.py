"""Whoosh's posting lists and field lengths as numpy arrays, read a block or a file at a time.

Whoosh's public matcher interface yields one posting per Python call. These functions read the
whoosh3 codec's storage directly (the only codec Whoosh-Reloaded writes): a block of postings is
one pickled tuple, a field's lengths one byte per document. The keyword tests compare every
ranking with Whoosh's own search, so a change in these internals fails them.
"""

from __future__ import annotations

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching import FilterMatcher, Matcher
from whoosh.reading import IndexReader
from whoosh.searching import Searcher


def term_postings(reader: IndexReader, field: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Document numbers and weights of a term's postings in one segment, deleted documents
    included (see :func:`deleted_documents`)."""
    matcher = reader.postings(field, btext)
    if isinstance(matcher, FilterMatcher):
        # It only hides deleted documents; building it moved its child past the first ones.
        matcher = matcher.child
        matcher.reset()
    if not isinstance(matcher, W3LeafMatcher):
        return _one_by_one(matcher)  # a single posting inlined in the term info
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    while matcher.is_active():
        # A block is a pickled (delta-encoded ids, weights, values) tuple; weights are None when
        # all are 1 and one float when all are equal (see W3LeafMatcher._read_weights, which
        # keeps that float as float32).
        matcher._read_data()
        deltas, block_weights = matcher._data[:2]
        ids.append(np.cumsum(np.array(deltas, dtype=np.int64)))
        count = len(deltas)
        if block_weights is None:
            weights.append(np.ones(count))
        elif isinstance(block_weights, float):
            weights.append(np.full(count, np.float32(block_weights), dtype=np.float64))
        else:
            weights.append(np.array(block_weights, dtype=np.float64))
        matcher._next_block()
    return np.concatenate(ids), np.concatenate(weights)


def _one_by_one(matcher: Matcher) -> tuple[np.ndarray, np.ndarray]:
    ids: list[int] = []
    weights: list[float] = []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64)


def length_bytes(reader: IndexReader, field: str) -> np.ndarray | None:
    """Each document's encoded length of ``field`` in one segment (decode with
    ``whoosh.util.numeric.byte_to_length``), or None if the segment has no length column.

    The column file holds one byte per document up to the last non-zero one; its reader's public
    interface reads a byte per Python call, so read the file in one go.
    """
    perdoc = reader._perdoc
    column = _lenfield(field)
    if not perdoc.has_column(column):
        return None
    lengths = perdoc.column_reader(column, LENGTHS_COLUMN)
    raw = lengths._dbfile.get(lengths._basepos, lengths._count)
    encoded = np.zeros(reader.doc_count_all(), dtype=np.uint8)
    encoded[: lengths._count] = np.frombuffer(raw, dtype=np.uint8)
    return encoded


def deleted_documents(searcher: Searcher) -> np.ndarray | None:
    """The deleted document numbers of the searcher's index, or None if there are none."""
    deleted = [
        np.fromiter(leaf.reader().deleted_docs_set, dtype=np.int64) + offset
        for leaf, offset in searcher.leaf_searchers()
        if leaf.reader().has_deletions()
    ]
    return np.concatenate(deleted) if deleted else None
