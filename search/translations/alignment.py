"""Monotone alignment of two articles' paragraphs: translations keep their order."""

from __future__ import annotations

import numpy as np


def align(scores: np.ndarray, bar: float) -> list[tuple[int, int]]:
    """The pairs (i, j) of the order-preserving matching that maximizes the sum of
    score - bar over matched pairs; paragraphs on either side may stay unmatched (a paragraph
    split in two, one left out). Only pairs scoring above `bar` are ever matched; ties go to
    the earlier pair."""
    rows, cols = scores.shape
    gain = np.asarray(scores, dtype=np.float64) - bar
    best = np.zeros((rows + 1, cols + 1))
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            take = best[i - 1, j - 1] + gain[i - 1, j - 1] if gain[i - 1, j - 1] > 0 else -1.0
            best[i, j] = max(best[i - 1, j], best[i, j - 1], take)
    pairs: list[tuple[int, int]] = []
    i, j = rows, cols
    while i > 0 and j > 0:
        if best[i, j] == best[i - 1, j]:
            i -= 1
        elif best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
    return pairs[::-1]
