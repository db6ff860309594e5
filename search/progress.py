"""Progress bars for long CLI work: one per indexing stage, on stderr, so that --json output
stays clean and pipes get no bars."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


class ProgressBars:
    """A progress bar per indexing stage, on stderr so that --json output stays clean."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: ProgressBar[int] | None = None
        self.stage: str | None = None
        self.done = 0

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._finish()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total < 50:
            return
        if stage != self.stage:
            self._finish()
            self.stage, self.done = stage, 0
            self.bar = click.progressbar(length=total, label=f"{stage:<9}", file=sys.stderr)
            self.bar.__enter__()
        assert self.bar is not None  # made with the first call of its stage
        self.bar.update(done - self.done)
        self.done = done

    def _finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
