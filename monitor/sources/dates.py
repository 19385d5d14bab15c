"""Dates as news sites write them, in the languages of the subject, as timezone-aware UTC.

`parse_date` tries, in order: ISO 8601 (`2017-08-15T09:30:00-04:00`, `2025-12-01`), RFC 822
(`Tue, 30 Apr 2024 18:15:00 +0300`), numeric dates in the source's order (8world's `01/12/2025 10:56`,
`01.12.2025`, `2025/12/01`), CJK and Korean dates (`2025年12月1日`, `2025년 12월 1일`), dates with month
names in English, German, French, Spanish, Italian, Portuguese, Polish, Russian and Ukrainian
(`August 15, 2017`, `15 марта 2025`, `1er décembre 2025`, `15. März 2025`), and relative ones (`3 hours
ago`, `5 минут назад`, `3小时前`, `yesterday`). A date without a zone is read in the source's zone.
`date_in_url` reads the `/2014/07/24/` or `/20251130-` that many sites put in their article URLs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime

# A month is known by the start of its name; each stem starts one month's name only, in every
# language listed, so "mar" is March and "mai" is May whatever the language.
_MONTH_STEMS: dict[int, tuple[str, ...]] = {
    1: ("jan", "ene", "gen", "sty", "янв", "січ"),
    2: ("feb", "fév", "fev", "lut", "фев", "лют"),
    3: ("mar", "mär", "mrz", "мар", "бер"),
    4: ("apr", "abr", "avr", "kwi", "апр", "кві"),
    5: ("may", "mai", "mag", "maj", "мая", "май", "тра"),
    6: ("jun", "juin", "giu", "cze", "июн", "чер"),
    7: ("jul", "juil", "lug", "lip", "июл", "лип"),
    8: ("aug", "ago", "aoû", "aou", "sie", "авг", "сер"),
    9: ("sep", "set", "wrz", "сен", "вер"),
    10: ("oct", "okt", "out", "ott", "paź", "paz", "окт", "жов"),
    11: ("nov", "lis", "ноя", "лис"),
    12: ("dec", "dez", "dic", "déc", "gru", "дек", "гру"),
}
_NOT_MONTHS = ("mart", "mard", "серед")  # martes, martedì, mardi (Tuesday); середа (Wednesday)
_STEMS = sorted(((stem, month) for month, stems in _MONTH_STEMS.items() for stem in stems), key=lambda s: -len(s[0]))

_CLOCK = r"(?:\D{0,4}?(\d{1,2})[:h.](\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?)?"
_ZONE = re.compile(r"(?:\b(UTC|GMT|Z)\b|([+-])(\d{2}):?(\d{2})\b)\s*$", re.IGNORECASE)
_NUMERIC = re.compile(r"(?<!\d)(\d{1,4})\s*([./-])\s*(\d{1,2})\s*\2\s*(\d{1,4})(?!\d)" + _CLOCK, re.IGNORECASE)
_CJK = re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?" + _CLOCK)
_WORD = re.compile(r"[^\W\d_]+")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")
_DAY = re.compile(r"(?<![\d:.])(\d{1,2})(?:st|nd|rd|th|er|e|\.)?(?![\d:])", re.IGNORECASE)
_TIME = re.compile(r"(?<!\d)(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?", re.IGNORECASE)
_RELATIVE = re.compile(
    r"(\d+)\s*(sec|min|hour|hr|day|week|сек|мин|час|дн|день|дня|недел|тиж|秒|分|小时|小時|時間|天|日|초|분|시간|일)\w*\s*"
    r"(ago|назад|тому|前|전)", re.IGNORECASE)
_UNITS = {"sec": 1, "сек": 1, "秒": 1, "초": 1, "min": 60, "мин": 60, "分": 60, "분": 60,
          "hour": 3600, "hr": 3600, "час": 3600, "小时": 3600, "小時": 3600, "時間": 3600, "시간": 3600,
          "day": 86400, "дн": 86400, "день": 86400, "дня": 86400, "天": 86400, "日": 86400, "일": 86400,
          "week": 604800, "недел": 604800, "тиж": 604800}
_DAYS_BACK = {"today": 0, "сегодня": 0, "сьогодні": 0, "今天": 0, "오늘": 0,
              "yesterday": 1, "вчера": 1, "вчора": 1, "昨天": 1, "어제": 1}
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:[/_-]|$)")


def parse_date(text: str, *, order: str = "dmy", zone: tzinfo = UTC, now: datetime | None = None) -> datetime | None:
    """The instant `text` names, in UTC; None when it names none. `order` reads `01/02/2025`
    ("dmy", "mdy" or "ymd"); `zone` is where a date without a zone was written; `now` anchors
    relative dates ("3 hours ago")."""
    text = " ".join(text.split())
    if not text or len(text) > 200:
        return None
    found = _iso(text) or _rfc822(text) or _numeric(text, order) or _cjk(text) or _named(text)
    if found is not None:
        return _in_zone(found, text, zone)
    return _relative(text, now) if now is not None else None


def date_in_url(url: str) -> date | None:
    """The date a URL's path carries: `/2014/07/24/…`, `/20251130-…`, `/2025-11-30/`."""
    match = _URL_DATE.search(url)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _iso(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$", text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo is None else moment.astimezone(UTC)  # naive: the zone is applied later


def _rfc822(text: str) -> datetime | None:
    if not re.match(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}", text):
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _numeric(text: str, order: str) -> datetime | None:
    match = _NUMERIC.search(text)
    if not match:
        return None
    a, _, b, c = match.group(1, 2, 3, 4)
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    elif len(c) in (2, 4):
        year = int(c) + (2000 if len(c) == 2 else 0)
        first, second = int(a), int(b)
        day, month = (second, first) if order == "mdy" else (first, second)
        if month > 12 >= day:  # 25/12/2025 in an "mdy" source, or 12/25/2025 in a "dmy" one
            day, month = month, day
    else:
        return None
    return _moment(year, month, day, match.groups()[4:])


def _cjk(text: str) -> datetime | None:
    match = _CJK.search(text)
    if not match:
        return None
    return _moment(int(match[1]), int(match[2]), int(match[3]), match.groups()[3:])


def _named(text: str) -> datetime | None:
    folded = text.casefold()
    month = next((m for word in _WORD.findall(folded) if (m := _month(word))), None)
    year = _YEAR.search(folded)
    if month is None or year is None:
        return None
    rest = folded[: year.start()] + " " + folded[year.end():]
    clock = _TIME.search(rest)
    if clock:
        rest = rest[: clock.start()] + " " + rest[clock.end():]
    day = _DAY.search(rest)
    if day is None:
        return None
    return _moment(int(year[1]), month, int(day[1]), clock.groups() if clock else (None,) * 4)


def _month(word: str) -> int | None:
    if len(word) < 3 or word.startswith(_NOT_MONTHS):
        return None
    return next((month for stem, month in _STEMS if word.startswith(stem)), None)


def _moment(year: int, month: int, day: int, clock: tuple[str | None, ...]) -> datetime | None:
    hour, minute, second, half = (list(clock) + [None] * 4)[:4]
    try:
        h = int(hour) if hour else 0
        if half and half.lower().startswith("p") and h < 12:
            h += 12
        elif half and half.lower().startswith("a") and h == 12:
            h = 0
        return datetime(year, month, day, h, int(minute) if minute else 0, int(second) if second else 0)
    except ValueError:
        return None


def _in_zone(moment: datetime, text: str, zone: tzinfo) -> datetime:
    """A naive moment read in the zone `text` names at its end, else in `zone`; as UTC."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    match = _ZONE.search(text)
    if match and match[1]:
        return moment.replace(tzinfo=UTC)
    if match:
        offset = timedelta(hours=int(match[3]), minutes=int(match[4]))
        return (moment - offset if match[2] == "+" else moment + offset).replace(tzinfo=UTC)
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _relative(text: str, now: datetime) -> datetime | None:
    folded = text.casefold()
    match = _RELATIVE.search(folded)
    if match:
        unit = next((seconds for name, seconds in _UNITS.items() if match[2].startswith(name)), None)
        return now - timedelta(seconds=int(match[1]) * unit) if unit else None
    back = next((days for word, days in _DAYS_BACK.items() if word in folded), None)
    if back is None:
        return None
    clock = _TIME.search(folded)
    day = (now - timedelta(days=back)).replace(second=0, microsecond=0)
    return day.replace(hour=int(clock[1]), minute=int(clock[2])) if clock and int(clock[1]) < 24 else day
