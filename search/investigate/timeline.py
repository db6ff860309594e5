"""The matches of a query over time: its per-day counts (`Facets.dates`) in periods of a
day, a month or a year, with the undated matches counted apart."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from search.results import UNDATED

# Matches spanning at most this many days are drawn by day; up to this many months, by
# month; longer spans by year.
DAYS_AT_MOST = 62
MONTHS_AT_MOST = 120


class Interval(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class Bar:
    """One period: its label (YYYY-MM-DD, YYYY-MM or YYYY), first and last day, and count."""

    label: str
    first: date
    last: date
    count: int


@dataclass(frozen=True)
class Histogram:
    interval: Interval
    bars: list[Bar]  # every period from the first match's to the last's, empty ones too
    undated: int

    @property
    def dated(self) -> int:
        return sum(bar.count for bar in self.bars)

    def counts(self) -> dict[str, int]:
        """The periods that hold matches, oldest first, and "none" for the undated."""
        found = {bar.label: bar.count for bar in self.bars if bar.count}
        return found | ({UNDATED: self.undated} if self.undated else {})


def dates_facet(dates: dict[str, int], interval: Interval | None = None) -> dict[str, object]:
    """The matches over time as the JSON answers give them: `dates` (periods oldest first,
    "none" last) and the `interval` they are counted by."""
    found = histogram(dates, interval)
    return {"dates": found.counts(), "interval": found.interval.value}


def choose_interval(first: date, last: date) -> Interval:
    """By day for a short span, by month up to ten years, else by year."""
    if (last - first).days < DAYS_AT_MOST:
        return Interval.DAY
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    return Interval.MONTH if months <= MONTHS_AT_MOST else Interval.YEAR


def histogram(dates: dict[str, int], interval: Interval | None = None) -> Histogram:
    """The matches per period (`interval`, or chosen by their span when None) from their
    counts per day ("none": undated). Dates that do not parse count as undated."""
    days: dict[date, int] = {}
    undated = 0
    for day, count in dates.items():
        try:
            parsed = date.fromisoformat(day[:10])
        except ValueError:
            undated += count
            continue
        days[parsed] = days.get(parsed, 0) + count
    if not days:
        return Histogram(interval or Interval.MONTH, [], undated)
    first, last = min(days), max(days)
    chosen = interval or choose_interval(first, last)
    bars: dict[date, Bar] = {}
    for start in _periods(first, last, chosen):
        end = _period_end(start, chosen)
        bars[start] = Bar(_label(start, chosen), start, end, 0)
    for when, count in days.items():
        start = _period_start(when, chosen)
        bar = bars[start]
        bars[start] = Bar(bar.label, bar.first, bar.last, bar.count + count)
    return Histogram(chosen, list(bars.values()), undated)


def _period_start(day: date, interval: Interval) -> date:
    if interval is Interval.DAY:
        return day
    if interval is Interval.MONTH:
        return day.replace(day=1)
    return date(day.year, 1, 1)


def _period_end(start: date, interval: Interval) -> date:
    if interval is Interval.DAY:
        return start
    if interval is Interval.MONTH:
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    return date(start.year, 12, 31)


def _periods(first: date, last: date, interval: Interval) -> list[date]:
    periods = []
    start = _period_start(first, interval)
    while start <= last:
        periods.append(start)
        start = _period_end(start, interval) + timedelta(days=1)
    return periods


def _label(start: date, interval: Interval) -> str:
    if interval is Interval.DAY:
        return start.isoformat()
    if interval is Interval.MONTH:
        return start.isoformat()[:7]
    return str(start.year)
