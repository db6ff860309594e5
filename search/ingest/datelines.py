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
    place_parts, found, iso = segments, False, None
    for k in range(1, len(segments)):
        found, iso = parse_date_words(" ".join(segments[k:]))
        if found:
            place_parts = segments[:k]
            break
    source = match["source"].strip() if match["source"] else None
    place = ", ".join(place_parts)
    if not _plausible_place(place, bool(source), found):
        return None
    return Dateline(place, iso, source or None, rest)


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
    text = text.strip()
    numeric = _ISO_DATE.fullmatch(text)
    if numeric:
        return _checked(int(numeric[1]), int(numeric[2]), int(numeric[3]))
    cjk = _CJK_DATE.fullmatch(text)
    if cjk:
        return _checked(int(cjk[1]) if cjk[1] else None, int(cjk[2]), int(cjk[3]))
    month = None
    numbers: list[str] = []
    for token in text.lower().replace(".", " ").replace(",", " ").split():
        number = _DAY_OR_YEAR.fullmatch(token)
        if number:
            numbers.append(number[1])
        elif token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token not in _FILLERS:
            return False, None
    years = [int(n) for n in numbers if len(n) == 4]
    days = [int(n) for n in numbers if len(n) <= 2]
    if month is None or len(days) != 1 or len(years) > 1 or len(days) + len(years) != len(numbers):
        return False, None
    return _checked(years[0] if years else None, month, days[0])


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
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})(?=$|[T ])", value)
    found, iso = _checked(*map(int, match.groups())) if match else parse_date_words(value)
    return iso if found else None
