"""Counts as Chinese sites print them: 1234, "1,234", "43.4万", "1.2亿", "100万+", "赞同 6", "7 条评论"."""

from __future__ import annotations

import re

_COUNT = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(万|亿|[kK]|[wW])?")
_SCALE = {"万": 10_000, "w": 10_000, "W": 10_000, "亿": 100_000_000, "k": 1_000, "K": 1_000, None: 1}


def parse_count(value: object) -> int | None:
    """The first count in a value; None when it holds none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    match = _COUNT.search(str(value))
    if not match:
        return None
    return int(float(match.group(1).replace(",", "")) * _SCALE[match.group(2)])
