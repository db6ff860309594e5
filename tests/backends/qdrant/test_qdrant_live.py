"""The backend contract against a real Qdrant server or cluster, when there is one: opt in with
QDRANT_URL (and QDRANT_API_KEY if the cluster wants a key), e.g.

    QDRANT_URL=http://localhost:6333 python -m pytest tests/backends/qdrant/test_qdrant_live.py

The contract tests of tests/backends/test_contract.py run here unchanged, on a backend that
keeps each index folder's collections on that server under a name unique to the folder and to
this run (`test-<run>-<folder hash>`); then `search index` and a query go through the updater
and the engine. Every collection this run made is deleted at the end. A server is where the
backend differs most from local mode: payload indexes exist, vectors are searched with HNSW
(exactly, below its full-scan threshold), and the API key is checked.
"""

from __future__ import annotations

import json
import os
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
from helpers import FakeEncoder, write

import backends.test_contract as contract
from search import backends
from search.backends import open_backend
from search.backends.qdrant import QdrantBackend
from search.backends.qdrant.connection import connect, forget
from search.config import Settings
from search.engine import Engine
from search.index.updater import update_index
from search.ingest.language import LanguageDetector
from search.ranking.query import Mode, Query

URL = os.environ.get("QDRANT_URL", "")
API_KEY = os.environ.get("QDRANT_API_KEY") or None
RUN = f"test-{uuid.uuid4().hex[:12]}"
LIVE = "qdrant-live"  # the backend name the contract tests get here

pytestmark = pytest.mark.skipif(not URL,
                                reason="QDRANT_URL is not set: no Qdrant server to test against")

# The contract tests, collected here too; they take `backend_name` (below) and `backend`.
corpus = contract.corpus
globals().update({name: test for name, test in vars(contract).items()
                  if name.startswith("test_") and callable(test)})


def collection_name(index_dir: Path) -> str:
    """One name per index folder, so that two backends on one folder (as some contract tests
    make) share their collections, as they would share a local folder."""
    return f"{RUN}-{zlib.crc32(str(Path(index_dir).resolve()).encode()):08x}"


def live_backend(index_dir: Path, options: dict[str, Any], settings: object) -> QdrantBackend:
    return QdrantBackend(index_dir, URL, collection_name(index_dir), API_KEY)


def drop_collections() -> list[str]:
    client = connect(URL, API_KEY)
    dropped = sorted(c.name for c in client.get_collections().collections
                     if c.name.startswith(RUN))
    for name in dropped:
        client.delete_collection(name)
    return dropped


@pytest.fixture(scope="module")
def backend_name():
    """The contract's backends, on the server: registered for this module only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(backends._FACTORIES, LIVE, live_backend)
        try:
            yield LIVE
        finally:
            drop_collections()
            forget(URL)


def test_index_and_query_through_the_engine(backend_name, tmp_path):
    """`search index --backend qdrant --qdrant URL`, then a query and an update, as the CLI
    runs them (under this run's collection name, not the default one a server may hold)."""
    write(tmp_path / "seeds" / "feed.jsonl", "\n".join(json.dumps(a) for a in [
        {"id": "a", "title": "Talks", "lang": "en", "text": "Peace talks in Istanbul today."},
        {"id": "b", "title": "Wetter", "lang": "de", "text": "Gewitter über Berlin erwartet."},
    ]))
    index_dir, settings, encoder = tmp_path / "idx", Settings(model="fake"), FakeEncoder()
    detector = LanguageDetector()
    options = {"location": URL, "name": f"{RUN}-cli"}
    summary = update_index(tmp_path / "seeds", index_dir, settings, lambda: encoder,
                           detector=detector, backend="qdrant", backend_options=options)
    assert summary.generation == "g000001" and summary.paragraphs_added == 2
    backend = open_backend(index_dir)
    assert isinstance(backend, QdrantBackend) and backend.location == URL
    assert backend.check().ok
    write(tmp_path / "seeds" / "late.jsonl", json.dumps(
        {"id": "c", "title": "Harvest", "lang": "en", "text": "A record wheat harvest."}))
    assert update_index(tmp_path / "seeds", index_dir, settings, lambda: encoder,
                        detector=detector).generation == "g000002"
    with Engine(index_dir, encoder_factory=lambda model: encoder,
                detector=detector).open() as engine:
        for text, title in (("Istanbul talks", "Talks"), ("wheat harvest", "Harvest")):
            hits = engine.search(Query(text, mode=Mode.HYBRID, lang="en", size=3)).hits
            assert hits and hits[0].title == title
    assert open_backend(index_dir).check().ok
