"""Real file systems for the fault tests: a small tmpfs that fills up, a read-only bind mount.

Mounting needs root (CI runs as root). Where it is impossible, the test is skipped and says
why; every mount is undone when its block ends, whatever happened inside.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def need_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (CI runs as root); this run is uid {os.geteuid()}")


def _mount(*args: str) -> None:
    need_root("mounting a file system")
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(args)} is impossible here: {done.stderr.strip()}")


def _unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        # Still busy (a process the test started has not let go yet): detach it now, the
        # kernel frees it when the last file closes.
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextmanager
def tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A tmpfs of `size` bytes mounted at `path` (made if missing)."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


@contextmanager
def read_only_bind(source: Path, target: Path) -> Iterator[Path]:
    """`source` seen read-only at `target`, as an operator serves a read-only copy."""
    target.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(target))
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        yield target
    finally:
        _unmount(target)


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill the file system of `disk` with a ballast file until about `leave` bytes are free
    (tmpfs counts whole pages); delete the file to free the space again."""
    ballast = disk / "ballast"
    with open(ballast, "ab", buffering=0) as handle:
        want = max(free_bytes(disk) - leave, 0)
        try:
            while want > 0:
                want -= handle.write(b"\0" * min(want, 1 << 20))
            handle.flush()
        except OSError:  # full before `leave`: it is full, which is what was asked
            pass
    return ballast
