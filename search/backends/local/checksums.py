"""Integrity of an index folder: the size and CRC-32 of every file, recorded at each commit.

Whoosh unpickles its table of contents and segment metadata; reading damaged files can crash,
allocate many gigabytes or load silently wrong analysis. :func:`verify_checksums` runs before
Whoosh reads anything, so damage is reported instead.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

CHECKSUMS = "checksums.json"


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _index_files(path: Path) -> list[Path]:
    """The files Whoosh reads: everything but the write lock and our own bookkeeping."""
    return sorted(
        entry
        for entry in path.iterdir()
        if entry.is_file()
        and not entry.name.endswith(("WRITELOCK", ".tmp", ".lock"))
        and entry.name != CHECKSUMS
    )


def write_checksums(path: Path, known: dict[str, list[int]]) -> dict[str, list[int]]:
    """Record ``[size, crc32]`` of every index file; return the record.

    Whoosh never rewrites a segment file, so a CRC in ``known`` is reused when the name and size
    match (TOC files are small and always recomputed). The record replaces the old one
    atomically: another generation may share the old file by hard link.
    """
    sums: dict[str, list[int]] = {}
    for file in _index_files(path):
        size = file.stat().st_size
        cached = known.get(file.name)
        if cached is not None and cached[0] == size and not file.name.endswith(".toc"):
            sums[file.name] = [size, cached[1]]
        else:
            sums[file.name] = [size, _crc(file)]
    tmp = path / f"{CHECKSUMS}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"files": sums}, handle, indent=0, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path / CHECKSUMS)
    return sums


def verify_checksums(path: Path) -> dict[str, list[int]]:
    """Check every recorded file's size and CRC before Whoosh unpickles anything from it.

    Garbage in a TOC is not just an exception: a garbled pickle memo index makes C pickle
    allocate many gigabytes, and flipped bits in a pickled stop list load without complaint.
    Raises ValueError naming the first problem.
    """
    try:
        sums = json.loads((path / CHECKSUMS).read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise ValueError(f"{CHECKSUMS} is missing") from None
    tocs = [f.name for f in _index_files(path) if f.name.endswith(".toc")]
    newest = max(tocs, key=lambda name: int(name.rsplit("_", 1)[1][:-4]), default=None)
    if newest not in sums:
        raise ValueError(f"the table of contents {newest} is not in {CHECKSUMS}")
    for name, (size, crc) in sums.items():
        file = path / name
        if not file.is_file():
            raise ValueError(f"{name} is missing")
        if file.stat().st_size != size:
            raise ValueError(f"{name} has {file.stat().st_size} bytes instead of {size}")
        if _crc(file) != crc:
            raise ValueError(f"{name} does not match its checksum")
    return sums
