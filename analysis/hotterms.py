"""Hot terms: keywords far above their own baseline in the latest hour.

Counts are kept per hour (Asia/Shanghai) for the last `baseline_hours` hours plus the current one.
A term is hot when it appears at least `min_count` times in the latest hour and (count + 1) /
(mean hourly count before + 1) is at least `ratio`: a term that is always frequent (政府, 今天) is
not news; one that jumps from nothing to dozens is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from models import SHANGHAI


@dataclass(frozen=True)
class HotTerm:
    term: str
    count: int
    baseline: float
    ratio: float


def _hour(moment: datetime) -> int:
    return int(moment.astimezone(SHANGHAI).timestamp()) // 3600


class HotTerms:
    def __init__(self, baseline_hours: int = 24, min_count: int = 3, ratio: float = 3.0) -> None:
        self.baseline_hours = baseline_hours
        self.min_count = min_count
        self.ratio = ratio
        self._hours: dict[int, Counter[str]] = {}

    def add(self, moment: datetime, terms: Iterable[str]) -> None:
        hour = _hour(moment)
        counts = self._hours.get(hour)
        if counts is None:
            counts = self._hours[hour] = Counter()
            latest = max(self._hours)
            for old in [h for h in self._hours if h < latest - self.baseline_hours]:
                del self._hours[old]  # memory stays bounded by the window
        counts.update(set(terms))

    def hot(self, at: datetime | None = None, top: int = 20) -> list[HotTerm]:
        if not self._hours:
            return []
        hour = _hour(at) if at else max(self._hours)
        current = self._hours.get(hour, Counter())
        before = [self._hours.get(h, Counter()) for h in range(hour - self.baseline_hours, hour)]
        found = []
        for term, count in current.items():
            if count < self.min_count:
                continue
            baseline = sum(c[term] for c in before) / self.baseline_hours
            ratio = (count + 1) / (baseline + 1)
            if ratio >= self.ratio:
                found.append(HotTerm(term, count, round(baseline, 2), round(ratio, 2)))
        return sorted(found, key=lambda t: (-t.ratio, -t.count, t.term))[:top]
