"""Sorting matches by date and boosting recent ones: pure functions over dates and scores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class Sort(StrEnum):
    RELEVANCE = "relevance"
    DATE = "date"


class Collapse(StrEnum):
    """What a listing shows once: every paragraph (none), or each translation group once,
    at its best-ranked member (translations)."""

    NONE = "none"
    TRANSLATIONS = "translations"


def age_in_days(iso: str | None, today: date) -> float | None:
    """Days from an article date (ISO, YYYY-MM-DD first) to `today`, 0 for future dates;
    None when undated or unreadable."""
    if not iso:
        return None
    try:
        day = date.fromisoformat(iso[:10])
    except ValueError:
        return None
    return float(max((today - day).days, 0))


def recency_factor(iso: str | None, today: date, half_life_days: float) -> float:
    """0.5 ** (age / half-life): 1 today, 0.5 one half-life ago. An undated paragraph counts
    as one half-life old, neither favoured nor buried."""
    age = age_in_days(iso, today)
    return 0.5 if age is None else 0.5 ** (age / half_life_days)


def newest_first(items: Sequence[T], dates: Sequence[str | None]) -> list[T]:
    """`items` (in relevance order) by date, newest first, undated last; ties keep their
    relevance order."""
    keyed = sorted(range(len(items)),
                   key=lambda i: (dates[i] is None, _negated(dates[i]), i))
    return [items[i] for i in keyed]


def _negated(iso: str | None) -> tuple[int, ...]:
    if not iso:
        return ()
    return tuple(-ord(ch) for ch in iso[:10])
