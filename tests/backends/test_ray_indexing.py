"""`search index --ray` on every backend: the shipped seeds embedded on a local Ray by the real
default model; each paragraph's stored vector is the one its text gets in process."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SEEDS

from search.backends import open_backend
from search.config import DEFAULT_MODEL, Settings
from search.index.updater import update_index


@pytest.mark.slow
def test_an_index_built_on_ray_holds_the_in_process_vectors(backend_name, tmp_path,
                                                            ray_session, real_encoder):
    from search.encoders.ray_embedding import RayEmbedding

    with RayEmbedding(DEFAULT_MODEL) as embed:
        summary = update_index(SEEDS, tmp_path / "idx", Settings(), lambda: real_encoder,
                               backend=backend_name, embed=embed)
    assert summary.paragraphs_added == summary.paragraphs_embedded > 100
    backend = open_backend(tmp_path / "idx")
    assert backend.check().ok
    catalog = backend.catalog(summary.generation or "")
    pids = list(range(1, catalog.next_pid))
    reader = backend.open(catalog.name)
    try:
        stored = np.stack([reader.vector(pid) for pid in pids])
        texts = [paragraph.text for paragraph in reader.paragraphs(pids)]
    finally:
        reader.close()
    assert len(texts) == summary.paragraphs_added
    assert np.min(np.sum(stored * real_encoder.encode(texts), axis=1)) >= 0.9999
