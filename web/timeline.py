"""The timeline of a search page: its matches per period as bars of an inline SVG chart,
drawn on the server (no JavaScript). Each bar links to the search narrowed to its period
and carries its count in a <title> (shown on hover) and as text under it, so the chart reads
without colour and without a pointer."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import request, url_for

from search.investigate.timeline import Histogram, histogram
from search.results import SearchPage

from .params import SEARCH_PARAMETERS

WIDTH = 720
HEIGHT = 120  # the bars' area; labels go below
TOP = 14  # room above the tallest bar for its count
LABEL_ROOM = 34
GAP = 2
MAX_LABELS = 12


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int
    link: str
    label_anchor: str | None  # where its label is anchored; None: no label (no room)


@dataclass(frozen=True)
class Chart:
    histogram: Histogram
    bars: list[ChartBar]
    width: int
    height: int
    bars_height: int


def timeline_chart(page: SearchPage) -> Chart | None:
    """The chart of a page's matches over time; None when no match is dated."""
    found = histogram(page.facets.dates)
    if not found.bars:
        return None
    kept = [(k, v) for k, v in request.args.items(multi=True)
            if k in SEARCH_PARAMETERS and k not in ("date_from", "date_to")]
    top = max(bar.count for bar in found.bars) or 1
    step = WIDTH / len(found.bars)
    every = max(1, -(-len(found.bars) // MAX_LABELS))
    bars = []
    for i, bar in enumerate(found.bars):
        height = 0.0 if not bar.count else max(2.0, (HEIGHT - TOP) * bar.count / top)
        query = [*kept, ("date_from", bar.first.isoformat()), ("date_to", bar.last.isoformat())]
        bars.append(ChartBar(round(i * step, 2), round(HEIGHT - height, 2),
                             round(max(step - GAP, 1.0), 2), round(height, 2), bar.label,
                             bar.count, url_for("pages.search") + "?" + urlencode(query),
                             _anchor(i, len(found.bars), every)))
    return Chart(found, bars, WIDTH, HEIGHT + LABEL_ROOM, HEIGHT)


def _anchor(i: int, count: int, every: int) -> str | None:
    """Every `every`th bar is labelled, the first from its left edge, a last one on the
    step from its right edge, so that no label leaves the chart."""
    if i % every:
        return None
    if i == 0:
        return "start"
    return "end" if i == count - 1 else "middle"
