import pytest

from crawlers.numbers import parse_count


@pytest.mark.parametrize(("value", "expected"), [
    (1234, 1234), ("1234", 1234), ("1,234", 1234), ("43.4万", 434_000), ("100万+", 1_000_000),
    ("1.2亿", 120_000_000), ("赞同 6 ", 6), ("7 条评论", 7), ("2.5k", 2500), ("3w", 30_000),
    (None, None), ("", None), ("评论", None), (True, None),
])
def test_counts(value: object, expected: int | None) -> None:
    assert parse_count(value) == expected
