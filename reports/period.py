"""The day or week a briefing covers, in Asia/Shanghai, and the one before it to compare against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from models import SHANGHAI

Kind = Literal["day", "week"]
_LENGTH = {"day": timedelta(days=1), "week": timedelta(days=7)}


@dataclass(frozen=True)
class Period:
    kind: Kind
    first: date  # the day, or the Monday of the week

    @classmethod
    def of(cls, kind: Kind, day: date) -> Period:
        """The day itself, or the week (Monday to Sunday) that holds it."""
        return cls(kind, day - timedelta(days=day.weekday()) if kind == "week" else day)

    @classmethod
    def last_complete(cls, kind: Kind, moment: datetime) -> Period:
        """Yesterday, or last week: the latest period that is over at `moment`."""
        return cls.of(kind, moment.astimezone(SHANGHAI).date() - _LENGTH[kind])

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), SHANGHAI)

    @property
    def end(self) -> datetime:
        """The first moment after it."""
        return self.start + _LENGTH[self.kind]

    @property
    def last_second(self) -> datetime:
        """The store's time bounds are whole seconds, both ends included: [start, last_second] is the period."""
        return self.end - timedelta(seconds=1)

    def previous(self) -> Period:
        return Period(self.kind, self.first - _LENGTH[self.kind])

    @property
    def key(self) -> str:
        """Names the period for good: what a sent briefing is remembered by."""
        return f"{self.kind}:{self.first.isoformat()}"

    @property
    def title(self) -> str:
        return "舆情日报" if self.kind == "day" else "舆情周报"

    @property
    def label(self) -> str:
        if self.kind == "day":
            return f"{self.first.year}年{self.first.month}月{self.first.day}日"
        last = self.first + timedelta(days=6)
        return f"{self.first.year}年{self.first.month}月{self.first.day}日—{last.month}月{last.day}日"
