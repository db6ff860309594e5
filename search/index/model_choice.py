"""Which model an update of an index uses: the one asked for, else the one the index was
built with (no silent switch of an existing index to a new default), else the default."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from search.config import DEFAULT_MODEL
from search.errors import SearchError


@dataclass(frozen=True)
class ModelChoice:
    model: str
    note: str | None = None  # one line for the user, when the index keeps an older model


def choose_model(index_dir: Path, asked: str | None, rebuild: bool) -> ModelChoice:
    """The model for `search index`: `asked` if given; on an existing index (and no
    --rebuild) the model it records, with a note on how to move to the default."""
    if asked is not None:
        return ModelChoice(asked)
    recorded = None if rebuild else indexed_model(index_dir)
    if recorded is None or recorded == DEFAULT_MODEL:
        return ModelChoice(DEFAULT_MODEL)
    return ModelChoice(recorded, (
        f"{index_dir} keeps its model {recorded!r}; the default for new indexes is "
        f"{DEFAULT_MODEL!r}: move with `search index --rebuild --model {DEFAULT_MODEL}`"))


def indexed_model(index_dir: Path) -> str | None:
    """The model of the index's live generation; None when there is none (or it cannot be
    read: the update itself then reports why)."""
    from search.backends import open_backend

    if not Path(index_dir).is_dir():
        return None
    try:
        backend = open_backend(Path(index_dir))
        name = backend.current()
        return backend.catalog(name).model if name else None
    except (SearchError, OSError, ValueError, KeyError):
        return None
