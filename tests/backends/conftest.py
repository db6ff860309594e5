"""Every registered backend, the in-memory one included, as a fixture for the contract tests.

Adding a backend to the suite is its `register` line here; the tests take `names()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from memory_backend import MemoryBackend

from search.backends import create_backend, names, register
from search.backends.base import Backend

register("memory", MemoryBackend.factory)


@pytest.fixture(scope="session", params=names())
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(backend_name: str, tmp_path: Path) -> Backend:
    """A new, empty backend of each kind on its own folder."""
    return create_backend(backend_name, tmp_path / "idx")
