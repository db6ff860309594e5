"""Shared fixtures: tiny corpora in tmp_path, a deterministic fake encoder, the real model,
the app and the `search` command's runner. Shared helpers are in helpers.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SEEDS, FakeEncoder, use_fake_model

from search.config import Settings


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


@pytest.fixture
def runner() -> CliRunner:
    """Runs the `search` command in process (as flaskr's `runner`)."""
    return CliRunner()


@pytest.fixture
def fake_model(monkeypatch) -> None:
    """`search` loads the fake encoder instead of the model, and `serve` stops where it
    would start listening (helpers.use_fake_model)."""
    use_fake_model(monkeypatch)


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
