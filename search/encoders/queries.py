"""Many queries' vectors at once, for batch search.

`Encoder.encode` embeds texts as passages; a model that embeds queries differently (a
prefix, another weight precision) gets its batched query method here, in this one place,
once the encoder has one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from search.encoders.base import Encoder


def encode_query_batch(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """The query vectors of `texts` as an (n, dim) float32 array of unit rows."""
    batched = getattr(encoder, "encode_queries", None)
    if callable(batched):
        return np.asarray(batched(list(texts)), dtype=np.float32)
    return encoder.encode(texts)
