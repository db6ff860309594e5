"""Datelines and dates in news text.

Datelines: "KYIV, Jul 22 (Alliance News): ", "LONDON, March 3, 2024 (Reuters) - ", ...
Dates: "Jul 22", "22 July 2025", "2025年7月22日", "2025-07-22".
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Dateline:
    place: str
    date: str | None  # ISO, only when the year is given
    source: str | None
    rest: str  # the paragraph without the dateline
    month_day: tuple[int, int] | None = None  # of a date without a year ("Jul 22")

    def dated(self, published: str | None) -> str | None:
        """The article's date: the dateline's own, or its month and day in the year of
        `published` (the article's metadata date, ISO) when it gives no year, else
        `published`."""
        if self.date:
            return self.date
        if self.month_day and published:
            return in_year_of(self.month_day, published) or published
        return published


def in_year_of(month_day: tuple[int, int], reference: str) -> str | None:
    """Month and day in the year that puts them nearest the ISO date `reference`: a
    dateline of Dec 31 on a page published on Jan 1 belongs to the year before."""
    try:
        ref = date.fromisoformat(reference[:10])
    except ValueError:
        return None
    month, day = month_day
    options = []
    for year in (ref.year - 1, ref.year, ref.year + 1):
        found, iso = _checked(year, month, day)
        if found and iso:
            options.append(date.fromisoformat(iso))
    if not options:
        return None
    return min(options, key=lambda d: (abs((d - ref).days), d)).isoformat()


_DATELINE = re.compile(
    r"(?P<head>[^\W\d_][^\n()（）:：]{0,80}?)\s*"
    r"(?:[(（](?P<source>[^\n()（）]{1,60})[)）]\s*)?"
    r"(?:--|[-–—:：])(?:[^\S\n]+|(?<=：))"
)
_COMMAS = re.compile(r"\s*[,，、،]\s*")


def parse_dateline(paragraph: str) -> Dateline | None:
    """The dateline opening a news paragraph, or None when there is none or it is doubtful.

    A dateline needs a place (upper case in cased scripts) and a source in brackets or a date.
    """
    match = _DATELINE.match(paragraph)
    rest = paragraph[match.end() :].strip() if match else ""
    if not match or not rest:
        return None
    segments = _COMMAS.split(match["head"].strip())
    place_parts, found, iso, month_day = segments, False, None, None
    for k in range(1, len(segments)):
        parts = date_parts(" ".join(segments[k:]))
        if parts is not None:
            found = True
            year, month, day = parts
            iso = date(year, month, day).isoformat() if year else None
            month_day = None if year else (month, day)
            place_parts = segments[:k]
            break
    source = match["source"].strip() if match["source"] else None
    place = ", ".join(place_parts)
    if not _plausible_place(place, bool(source), found):
        return None
    return Dateline(place, iso, source or None, rest, month_day)


def _plausible_place(place: str, has_source: bool, has_date: bool) -> bool:
    if not (has_source or has_date) or not place or len(place) > 40 or len(place.split()) > 5:
        return False
    if any(ch.isdigit() for ch in place) or any(not part for part in _COMMAS.split(place)):
        return False
    if any(ch.lower() != ch.upper() for ch in place):  # a cased script: capitals expected
        city, *region = _COMMAS.split(place)  # "SAN FRANCISCO, Calif."
        capitals = city == city.upper() and all(part[0].isupper() for part in region)
        return capitals or (has_source and has_date and place.istitle())
    return has_source


_MONTH_NAMES = (
    "january januar janvier enero gennaio janeiro январь января يناير",
    "february februar février fevrier febrero febbraio fevereiro февраль февраля فبراير",
    "march märz maerz mars marzo março марта март مارس",
    "april avril abril aprile апрель апреля أبريل إبريل",
    "may mai mayo maggio maio май мая مايو",
    "june juni juin junio giugno junho июнь июня يونيو",
    "july juli juillet julio luglio julho июль июля يوليو",
    "august août aout agosto август августа أغسطس",
    "september septembre septiembre settembre setembro сентябрь сентября سبتمبر",
    "october oktober octobre octubre ottobre outubro октябрь октября أكتوبر",
    "november novembre noviembre novembro ноябрь ноября نوفمبر",
    "december dezember décembre decembre diciembre dicembre dezembro декабрь декабря ديسمبر",
)


def _month_prefixes() -> dict[str, int]:
    """Every prefix of three or more letters of a month name that names only that month."""
    owners: dict[str, set[int]] = {}
    for number, names in enumerate(_MONTH_NAMES, start=1):
        for name in names.split():
            for end in range(min(3, len(name)), len(name) + 1):
                owners.setdefault(name[:end], set()).add(number)
    return {prefix: months.pop() for prefix, months in owners.items() if len(months) == 1}


_MONTHS = _month_prefixes()
_FILLERS = frozenset(
    "de del le the of am den el года год г".split()
    + "monday tuesday wednesday thursday friday saturday sunday".split()
)
_DAY_OR_YEAR = re.compile(r"(\d{1,4})(?:st|nd|rd|th|er|e|º|°)?")
_CJK_DATE = re.compile(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_date_words(text: str) -> tuple[bool, str | None]:
    """(is a date, ISO date or None) for "Jul 22", "22 July 2025", "2025年7月22日", "2025-07-22".

    Month names are known in English, German, French, Spanish, Italian, Portuguese, Russian and
    Arabic. A date without a year is recognised but has no ISO form.
    """
    parts = date_parts(text)
    if parts is None:
        return False, None
    year, month, day = parts
    return True, (date(year, month, day).isoformat() if year else None)


def date_parts(text: str) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) of a date written as parse_date_words reads them."""
    text = text.strip()
    numeric = _ISO_DATE.fullmatch(text)
    if numeric:
        return _valid(int(numeric[1]), int(numeric[2]), int(numeric[3]))
    cjk = _CJK_DATE.fullmatch(text)
    if cjk:
        return _valid(int(cjk[1]) if cjk[1] else None, int(cjk[2]), int(cjk[3]))
    month = None
    numbers: list[str] = []
    for token in text.lower().replace(".", " ").replace(",", " ").split():
        number = _DAY_OR_YEAR.fullmatch(token)
        if number:
            numbers.append(number[1])
        elif token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token not in _FILLERS:
            return None
    years = [int(n) for n in numbers if len(n) == 4]
    days = [int(n) for n in numbers if len(n) <= 2]
    if month is None or len(days) != 1 or len(years) > 1 or len(days) + len(years) != len(numbers):
        return None
    return _valid(years[0] if years else None, month, days[0])


def _valid(year: int | None, month: int, day: int) -> tuple[int | None, int, int] | None:
    found, _ = _checked(year, month, day)
    return (year, month, day) if found else None


def _checked(year: int | None, month: int, day: int) -> tuple[bool, str | None]:
    if not 1 <= month <= 12 or (year is not None and not 1000 <= year <= 9999):
        return False, None
    if not 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
        return False, None
    return True, (date(year, month, day).isoformat() if year else None)


def iso_date(value: Any) -> str | None:
    """YYYY-MM-DD from an ISO date or timestamp string (or a written date with a year)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    match = re.match(r"(\d{4})-?(\d{2})-?(\d{2})(?=$|[T ])", value)  # 2025-05-01, 20250501
    found, iso = _checked(*map(int, match.groups())) if match else parse_date_words(value)
    return iso if found else None


@dataclass(frozen=True)
class Opening:
    """A body with its opening dateline taken off, and what the dateline and the metadata
    say together."""

    body: str
    date: str | None
    place: str | None
    source: str | None


def take_dateline(body: str, published: str | None = None,
                  source: str | None = None) -> Opening:
    """The body's first paragraph read as a dateline (removed from the body when it is one);
    `published` is the article's metadata date (ISO), which gives a yearless dateline its
    year, and the date when there is no dateline; `source` from the metadata wins over the
    dateline's."""
    head, sep, rest = body.partition("\n\n")
    line = parse_dateline(head)
    if line is None:
        return Opening(body, published, None, source)
    return Opening(line.rest + sep + rest, line.dated(published), line.place,
                   source or line.source)
