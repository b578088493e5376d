from datetime import datetime

import pytest

from crawlers.dates import parse_datetime
from models import SHANGHAI

NOW = datetime(2024, 3, 12, 15, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-12T08:00:00Z", datetime(2024, 3, 12, 16, 0)),
    ("Tue, 12 Mar 2024 08:00:00 +0800", datetime(2024, 3, 12, 8, 0)),
    ("2024年3月12日 12:30", datetime(2024, 3, 12, 12, 30)),
    ("2024年03月12日12:30", datetime(2024, 3, 12, 12, 30)),
    ("2024-03-12 12:30", datetime(2024, 3, 12, 12, 30)),
    ("2024/3/12 12:30:45", datetime(2024, 3, 12, 12, 30, 45)),
    ("发布时间：2024-03-12 12:30 来源：新华网", datetime(2024, 3, 12, 12, 30)),
    ("03-12 08:00", datetime(2024, 3, 12, 8, 0)),
    ("12-30", datetime(2023, 12, 30, 0, 0)),
    ("刚刚", datetime(2024, 3, 12, 15, 0)),
    ("5分钟前", datetime(2024, 3, 12, 14, 55)),
    ("3小时前", datetime(2024, 3, 12, 12, 0)),
    ("2天前", datetime(2024, 3, 10, 15, 0)),
    ("今天 12:30", datetime(2024, 3, 12, 12, 30)),
    ("昨天 08:00", datetime(2024, 3, 11, 8, 0)),
    ("前天 23:59", datetime(2024, 3, 10, 23, 59)),
    ("昨天", datetime(2024, 3, 11, 0, 0)),
    ("前天", datetime(2024, 3, 10, 0, 0)),
    ("11:51", datetime(2024, 3, 12, 11, 51)),
    ("30秒前", datetime(2024, 3, 12, 14, 59, 30)),
    ("3-12", datetime(2024, 3, 12, 0, 0)),
    ("3月12日", datetime(2024, 3, 12, 0, 0)),
    ("2024-03-12", datetime(2024, 3, 12, 0, 0)),
    ("2024年3月12日", datetime(2024, 3, 12, 0, 0)),
    ("Sat Aug 13 10:32:17 +0800 2022", datetime(2022, 8, 13, 10, 32, 17)),
    ("Sat Aug 13 02:32:17 +0000 2022", datetime(2022, 8, 13, 10, 32, 17)),
])
def test_chinese_times(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text, NOW)
    assert parsed == expected.replace(tzinfo=SHANGHAI) and parsed.utcoffset().total_seconds() == 8 * 3600


@pytest.mark.parametrize("text", ["", None, "garbage", "2024-13-45 99:99", "前天下午", "99分钟", "25:61", "Sat Aug 32 10:32:17 +0800 2022"])
def test_garbage_is_none(text: str | None) -> None:
    assert parse_datetime(text, NOW) is None
