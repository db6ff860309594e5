"""How a failed write to an index folder reads for users: the disk is full, the file system is
read-only, or a permission is missing. One line, naming the file and what to do; the writers
of every backend that keeps files in the index folder use it."""

from __future__ import annotations

import errno
from pathlib import Path

from search.errors import IndexUnwritable

_FULL = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM}


def unwritable(exc: OSError, path: Path | str, root: Path | str,
               live: str | None) -> IndexUnwritable:
    """The error for `exc`, raised while writing `path` (the file the OSError names, if it
    names one) in the index folder `root` whose live generation is `live`."""
    where = exc.filename if isinstance(exc.filename, str) and exc.filename else str(path)
    unchanged = (f"the index is unchanged and still serves generation {live}" if live
                 else "no generation was published")
    if exc.errno in _FULL:
        return IndexUnwritable(f"the disk is full: no space left to write {where}; "
                               f"{unchanged}: free some space and run `search index` again")
    if exc.errno == errno.EROFS:
        return IndexUnwritable(f"{root} is on a read-only file system, so `search index` cannot "
                               f"write {where}; query, stats, check and serve work read-only")
    if exc.errno in _DENIED:
        return IndexUnwritable(f"permission denied writing {where}: run `search index` as a "
                               f"user who may write {root}")
    return IndexUnwritable(f"cannot write {where} ({exc.strerror or exc}); {unchanged}")
