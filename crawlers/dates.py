"""Publication times as Chinese sites write them → aware datetimes in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from models import SHANGHAI, aware

_FULL = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
)
_MONTH_DAY = re.compile(r"^(?P<m>\d{1,2})\s*[-/月]\s*(?P<d>\d{1,2})\s*日?(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2}))?$")
_AGO = re.compile(r"^(?P<n>\d+)\s*(?P<unit>秒|分钟|小时|天|周)前$")
_DAY_WORD = re.compile(r"^(?P<word>今天|昨天|前天)(?:\s*(?P<H>\d{1,2}):(?P<M>\d{2}))?$")
_CLOCK = re.compile(r"^(?P<H>\d{1,2}):(?P<M>\d{2})$")
# Weibo's API: "Sat Aug 13 10:32:17 +0800 2022".
_WEIBO = "%a %b %d %H:%M:%S %z %Y"
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days", "周": "weeks"}
_DAYS_BACK = {"今天": 0, "昨天": 1, "前天": 2}


def _build(y: int, m: int, d: int, hh: str | None = None, mm: str | None = None, ss: str | None = None) -> datetime | None:
    try:
        return datetime(y, m, d, int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=SHANGHAI)
    except ValueError:
        return None


def parse_datetime(text: str | None, now: datetime | None = None) -> datetime | None:
    """None, never an exception, for anything that is not a time."""
    if not text:
        return None
    text = " ".join(str(text).split())
    now = aware(now) if now else datetime.now(SHANGHAI)
    try:
        return aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    if text == "刚刚":
        return now
    if match := _CLOCK.match(text):  # a bare clock time on a list page is today's
        return _build(now.year, now.month, now.day, match["H"], match["M"])
    if match := _AGO.match(text):
        return now - timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
    if match := _DAY_WORD.match(text):
        day = now - timedelta(days=_DAYS_BACK[match["word"]])
        return _build(day.year, day.month, day.day, match["H"], match["M"])
    if match := _MONTH_DAY.match(text):
        found = _build(now.year, int(match["m"]), int(match["d"]), match["H"], match["M"])
        # "12-30" read in January is last year's.
        if found and found > now + timedelta(days=1):
            found = found.replace(year=now.year - 1)
        return found
    if match := _FULL.search(text):
        return _build(int(match["y"]), int(match["m"]), int(match["d"]), match["H"], match["M"], match["S"])
    try:
        return aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return aware(datetime.strptime(text, _WEIBO))
    except ValueError:
        return None


def find_datetime(text: str) -> datetime | None:
    """The first full date (with its time, when given) anywhere in a stretch of text."""
    match = _FULL.search(text or "")
    if not match:
        return None
    return _build(int(match["y"]), int(match["m"]), int(match["d"]), match["H"], match["M"], match["S"])
