"""The translation groups of a local generation: `groups.npy` in its folder, the (pid, group)
rows of the paragraphs that are not alone. Each writer carries the previous table forward;
a generation written before groups existed has no file, and every paragraph is alone."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from search.backends.local.manifest import REBUILD_HINT
from search.backends.local.store import atomic_file
from search.errors import IndexCorrupt

GROUPS_FILE = "groups.npy"


def read_groups(generation_dir: Path) -> dict[int, int]:
    path = generation_dir / GROUPS_FILE
    try:
        rows = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} cannot be read ({exc}); {REBUILD_HINT}") from exc
    if rows.ndim != 2 or rows.shape[1] != 2 or rows.dtype != np.int64:
        raise IndexCorrupt(f"{path} is damaged; {REBUILD_HINT}")
    return dict(zip(rows[:, 0].tolist(), rows[:, 1].tolist(), strict=True))


def write_groups(generation_dir: Path, table: Mapping[int, int]) -> None:
    rows = np.array(sorted(table.items()), dtype=np.int64).reshape(-1, 2)
    header = np.lib.format.header_data_from_array_1_0(rows)
    with atomic_file(generation_dir / GROUPS_FILE) as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        handle.write(rows.data)
