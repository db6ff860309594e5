"""The guard against mass removal: a run whose seeds folder lacks most of the index's files is
far more often a mistake (a typo in --seeds, a mount that has not come up, a folder being
replaced) than an intent, so it refuses unless told otherwise (--allow-removal)."""

from __future__ import annotations

from pathlib import Path

from search.backends.base import Catalog
from search.errors import RemovalRefused

# Below this many articles only a run removing every one of them is refused: in a small
# index, half of it is a handful of files.
SHARE_APPLIES_FROM = 10


def check_removal(live: Catalog | None, seen: set[str], share: float, rebuild: bool,
                  seeds_dir: Path, index_dir: Path) -> None:
    """Raise RemovalRefused if the files of `live` missing from `seen` (the seeds folder's
    paths, readable or not) hold every article of a non-empty index, or more than `share` of
    an index of SHARE_APPLIES_FROM articles or more. A rebuild starts from scratch on purpose:
    it is refused only when the seeds folder holds no file at all."""
    if live is None or live.articles == 0:
        return
    total = live.articles
    gone = sum(len(entry.articles) for path, entry in live.files.items() if path not in seen)
    if rebuild:
        refused = not seen
    else:
        refused = gone == total or (total >= SHARE_APPLIES_FROM and gone > share * total)
    if not refused:
        return
    what = "every one" if gone == total else f"more than {share:.0%}"
    raise RemovalRefused(
        f"refusing to remove {gone} of the {total} articles of {index_dir} ({what}): "
        f"{seeds_dir} lacks their files. Check the seeds folder; to remove them, run "
        "`search index --allow-removal`")
