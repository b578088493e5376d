"""The times `yuqing search --since/--until` take, judged at a fixed moment."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from models import SHANGHAI
from yuqing.search import moment

AT = datetime(2026, 11, 30, 9, 30, 15, tzinfo=SHANGHAI)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.mark.parametrize("value, end, when", [
    ("30m", False, AT - timedelta(minutes=30)),
    ("1w", False, AT - timedelta(days=7)),
    ("2w", True, AT - timedelta(days=14)),
    ("today", False, at(30, 0)),
    ("today", True, at(30, 23, 59, 59)),  # a day as an end includes its last second
    ("yesterday", False, at(29, 0)),
    ("Yesterday", True, at(29, 23, 59, 59)),
    ("昨天", False, at(29, 0)),
    ("09:00", False, at(30, 9)),  # today's: it has come
    ("9:30", True, at(30, 9, 30)),
    ("14:00", False, at(29, 14)),  # today's is still to come: yesterday's
    ("14：00", False, at(29, 14)),  # typed with a Chinese colon
    ("2026-11-01", False, at(1, 0)),
    ("2026-11-1", True, at(1, 23, 59, 59)),
    ("2026-11-30 14:00", False, at(30, 14)),
    ("2026-11-30T06:00:00+00:00", False, at(30, 14)),
])
def test_moments(value: str, end: bool, when: datetime) -> None:
    assert moment(value, AT, end=end) == when


def test_a_clock_time_just_after_midnight_reads_yesterday_evening() -> None:
    assert moment("23:00", datetime(2026, 12, 1, 0, 10, tzinfo=SHANGHAI)) == at(30, 23)
    # The day is Shanghai's, whatever zone the moment is given in.
    assert moment("today", datetime(2026, 11, 30, 17, 0, tzinfo=timezone.utc)) == datetime(2026, 12, 1, tzinfo=SHANGHAI)


@pytest.mark.parametrize("value", ["yesterday-ish", "25:00", "2026-13-01", "2026-02-30", "-1d", "soon", ""])
def test_what_is_no_time_says_what_would_be(value: str) -> None:
    with pytest.raises(ValueError, match="give a duration .* today, yesterday, a time .14:00., a date"):
        moment(value, AT)
