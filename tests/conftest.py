"""Shared fixtures: tiny corpora in tmp_path, a deterministic fake encoder, the real model."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import regex

from search.config import Settings
from search.encoders.base import ModelInfo

PROJECT = Path(__file__).resolve().parent.parent
SEEDS = PROJECT / "seeds"
_WORD = regex.compile(r"\w+")


class FakeEncoder:
    """Bag-of-words vectors from hashed lowercase words: fast, deterministic, and texts
    sharing words are close. For unit tests of the plumbing, not of meaning."""

    def __init__(self, dim: int = 64, name: str = "fake", languages=None) -> None:
        self.info = ModelInfo(name=name, dim=dim, languages=languages, max_chars=2000)
        self.calls = 0
        self.encoded = 0

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        vectors = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4)
                vectors[row, int.from_bytes(digest.digest(), "little") % self.info.dim] += 1.0
            vectors[row, 0] += 1e-3  # no all-zero rows
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def encode_queries(self, texts, batch_size: int = 64) -> np.ndarray:
        return self.encode(texts, batch_size)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def fake_settings() -> Settings:
    return Settings(model="fake")


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A copy of the shipped seeds/ folder that a test may change."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def real_encoder():
    """The bundled default model (multilingual-e5-small), loaded once per test session. Its
    conversion is cached in the user's cache folder, as a user's first run does, so that
    only a machine's first session pays for it (~10-40 s)."""
    from search.config import DEFAULT_MODEL
    from search.encoders.loading import load_encoder

    return load_encoder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, real_encoder) -> Path:
    """The shipped seeds indexed with the real default model, shared read-only by tests."""
    from search.index.updater import update_index

    index_dir = tmp_path_factory.mktemp("seed-index")
    update_index(SEEDS, index_dir, Settings(), lambda: real_encoder)
    return index_dir


@pytest.fixture(scope="module")
def app(seed_index, real_encoder):
    """The web app over the shared seed index (tests/web_fixtures.py has the helpers)."""
    from web_fixtures import make_app

    app = make_app(seed_index, real_encoder)
    yield app
    app.extensions["search"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray of 2 CPUs for the whole test session (starting takes ~4 s, stopping
    ~1.4 s); RayEmbedding uses it as it is. Skips when Ray is not installed (`pip install -e
    ".[scale]"`, which scripts/setup does)."""
    import logging

    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[scale]"')
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    yield ray
    ray.shutdown()
