"""Which backend an index update writes: the one the index folder records, or another one
asked for by name (which takes --rebuild when the folder already holds an index)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search.backends import create_backend, open_backend, recorded
from search.backends.base import Backend
from search.config import Settings
from search.errors import IndexIncompatible


def backend_for(index_dir: Path, settings: Settings, name: str | None,
                 options: dict[str, Any] | None, rebuild: bool
                 ) -> tuple[Backend, tuple[str, dict[str, Any] | None] | None]:
    """The backend to write, and what to record in the folder when that changes. Moving an
    existing index to another backend or location takes --rebuild."""
    recorded_name, recorded_options = recorded(index_dir)
    if name is None or (name == recorded_name and not options):
        return open_backend(index_dir, settings), None
    if (name, options or {}) == (recorded_name, recorded_options):
        return open_backend(index_dir, settings), None
    if not rebuild:
        existing = create_backend(recorded_name, index_dir, recorded_options, settings)
        if existing.current() is not None:
            raise IndexIncompatible(
                f"{index_dir} holds an index on the {recorded_name} backend"
                f"{_where(recorded_options)}: pass --rebuild to build it anew on {name}"
                f"{_where(options)}, or leave out --backend")
    return create_backend(name, index_dir, options, settings), (name, options)


def _where(options: dict[str, Any] | None) -> str:
    return f" at {options['location']}" if options and options.get("location") else ""
