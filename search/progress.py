"""Progress of long CLI work: one line per indexing stage on stderr, redrawn in place, so that
--json output stays clean and pipes get no bars.

Reading runs ahead of embedding, so both report at once: the line shows the embedding (with
paragraphs/s and an ETA) and the reading beside it. While files are still being read, the
number of paragraphs to embed is an estimate (marked ~): those found so far, scaled by the
share of files read.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

UNITS = {"reading": "files", "embedding": "paragraphs", "vectors": "vectors"}
WIDTH = 24  # characters of the bar
REDRAW = 0.2  # seconds between redraws of a line


@dataclass
class StageState:
    done: int = 0
    total: int = 0
    started: float = 0.0  # clock at the stage's first report
    first_done: int = 0  # `done` at that report: the rate counts what came after


def estimated_total(found: int, files_read: int, files_total: int) -> tuple[int, bool]:
    """Paragraphs to embed: `found` once every file is read, else `found` scaled by the share
    of files read; and whether it is an estimate."""
    if files_total <= 0 or files_read >= files_total:
        return found, False
    return max(found, round(found * files_total / max(files_read, 1))), True


def clock(seconds: float) -> str:
    """0:07, 12:30, 1:02:03."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(stage: str, done: int, total: int, rate: float | None = None,
             estimate: bool = False) -> str:
    """One progress line: label, bar, counts, and given a rate (items/s) the rate and ETA."""
    unit = UNITS.get(stage, "items")
    share = min(done / total, 1.0) if total > 0 else 0.0
    filled = round(share * WIDTH)
    line = (f"{stage:<9} [{'#' * filled}{'-' * (WIDTH - filled)}] "
            f"{done:,}/{'~' if estimate else ''}{total:,} {unit}")
    if rate:
        line += f"  {rate:,.0f} {unit}/s"
        if total > done:
            line += f"  ETA {clock((total - done) / rate)}"
    return line


def rate_of(done: int, first_done: int, seconds: float) -> float | None:
    """Items per second since the stage's first report; None before half a second has
    passed or anything was done (no rate worth showing yet)."""
    if seconds < 0.5 or done <= first_done:
        return None
    return (done - first_done) / seconds


class ProgressBars:
    """The progress callback of `search index`: a line per stage on stderr, when it is a
    terminal and the stage has at least 50 items."""

    def __init__(self, enabled: bool, stream: TextIO | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and (stream is not None or sys.stderr.isatty())
        self._now = now
        self._lock = threading.Lock()  # the reader thread reports beside the embedding
        self._stages: dict[str, StageState] = {}
        self._shown: str | None = None  # the stage whose line is on screen
        self._drawn = 0.0
        self._width = 0

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._end_line()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = self._now()
            state = self._stages.get(stage)
            if state is None:
                state = self._stages[stage] = StageState(started=now, first_done=done)
            state.done, state.total = done, total
            shown = "embedding" if "embedding" in self._stages and stage == "reading" else stage
            if shown != self._shown:
                self._end_line()
            elif now - self._drawn < REDRAW and done < total:
                return
            self._draw(shown, now)

    def line(self, stage: str, now: float) -> str:
        """What the stage's line shows now."""
        state = self._stages[stage]
        total, estimate = state.total, False
        reading = self._stages.get("reading")
        if stage == "embedding" and reading is not None:
            total, estimate = estimated_total(state.total, reading.done, reading.total)
        rate = rate_of(state.done, state.first_done, now - state.started)
        text = describe(stage, state.done, total, rate, estimate)
        if stage == "embedding" and reading is not None and reading.done < reading.total:
            text += f"  (reading {reading.done:,}/{reading.total:,} files)"
        return text

    def _draw(self, stage: str, now: float) -> None:
        state = self._stages[stage]
        if max(state.total, self._estimate(stage)) < 50:
            return
        text = self.line(stage, now)
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._shown, self._drawn, self._width = stage, now, len(text)

    def _estimate(self, stage: str) -> int:
        reading = self._stages.get("reading")
        if stage != "embedding" or reading is None:
            return 0
        return estimated_total(self._stages[stage].total, reading.done, reading.total)[0]

    def _end_line(self) -> None:
        if self._shown is not None:
            self._draw(self._shown, self._now())
            self.stream.write("\n")
            self.stream.flush()
        self._shown, self._width = None, 0
