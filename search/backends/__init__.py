"""Backends by name, and the record in each index folder of which one holds its index.

`backend.json` in the index folder names the backend and its options; a folder without one
is the local (Whoosh + FAISS) backend's. Backend modules are imported only when opened, so
that choosing one never loads another's libraries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from search.backends.base import Backend
from search.config import Settings
from search.errors import BackendUnavailable, IndexIncompatible

DEFAULT_BACKEND = "local"
RECORD = "backend.json"

# (index folder, the options recorded with it, the engine's settings) -> Backend
BackendFactory = Callable[[Path, dict[str, Any], Settings], Backend]


def _local(index_dir: Path, options: dict[str, Any], settings: Settings) -> Backend:
    from search.backends.local import LocalBackend

    return LocalBackend(index_dir, settings)


def _qdrant(index_dir: Path, options: dict[str, Any], settings: Settings) -> Backend:
    try:
        from search.backends.qdrant import factory
    except ImportError as exc:
        raise BackendUnavailable(
            f"the qdrant backend needs qdrant-client ({exc}): "
            "pip install 'polyglot-search[qdrant]'") from exc
    return factory(index_dir, options, settings)


_FACTORIES: dict[str, BackendFactory] = {"local": _local, "qdrant": _qdrant}


def register(name: str, factory: BackendFactory) -> None:
    """Make a backend available by name (to `search index --backend` and index folders)."""
    _FACTORIES[name] = factory


def names() -> list[str]:
    return sorted(_FACTORIES)


def create_backend(name: str, index_dir: Path, options: dict[str, Any] | None = None,
                   settings: Settings | None = None) -> Backend:
    """The named backend for an index folder (no I/O)."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise IndexIncompatible(f"unknown backend {name!r}: use one of {', '.join(names())}")
    return factory(Path(index_dir), dict(options or {}), settings or Settings())


def recorded(index_dir: Path) -> tuple[str, dict[str, Any]]:
    """The backend name and options an index folder records (the default when none)."""
    path = Path(index_dir) / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["backend"]), dict(data.get("options") or {})
    except FileNotFoundError:
        return DEFAULT_BACKEND, {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexIncompatible(f"{path} cannot be read ({exc}); fix or delete it") from exc


def open_backend(index_dir: Path, settings: Settings | None = None) -> Backend:
    """The backend that holds the index in `index_dir`."""
    name, options = recorded(index_dir)
    return create_backend(name, index_dir, options, settings)


def record(index_dir: Path, name: str, options: dict[str, Any] | None = None) -> None:
    """Write which backend holds the folder's index (the default backend needs no record)."""
    path = Path(index_dir) / RECORD
    if name == DEFAULT_BACKEND and not options:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(RECORD + ".tmp")
    tmp.write_text(json.dumps({"backend": name, "options": options or {}}), encoding="utf-8")
    tmp.replace(path)
