"""Crawled text for chat messages: one line, inert in markdown, cut to a byte limit on a character boundary."""

from __future__ import annotations

import pytest

from alerts.notifiers.text import cut, fit, link, markdown, one_line


def test_one_line_drops_control_and_direction_characters() -> None:
    assert one_line("北辰\r\n燃料\t乙醇\u2028 \x00回应\u202e臭恶") == "北辰 燃料 乙醇 回应臭恶"
    assert one_line(None) == "" and one_line(0.5) == "0.5"


@pytest.mark.parametrize("crawled", [
    "[点我](http://evil.example)", "![图](http://evil.example/p.png)", "<font color=red>", "<@all>",
    "**粗** _斜_ `码` # 题 > 引 | 表 ~删~", "&lt;b&gt;", "https://evil.example/x",
])
def test_markdown_leaves_no_ascii_markup(crawled: str) -> None:
    escaped = markdown(crawled)
    assert not set(escaped) & set("[]()!<>*_`#|~@&\\") and "://" not in escaped
    assert len(escaped) == len(crawled)  # one character for one: cutting can never split an escape


@pytest.mark.parametrize("text", ["北辰燃料乙醇" * 10, "𠮷😀" * 30, "abc😀中" * 20])
@pytest.mark.parametrize("limit", [3, 7, 20, 61])
def test_fit_cuts_on_a_character_boundary_within_the_byte_limit(text: str, limit: int) -> None:
    fitted = fit(lambda candidate: len(candidate.encode("utf-8")), text, limit)
    assert len(fitted.encode("utf-8")) <= limit and text.startswith(fitted[:-1])
    assert fitted.endswith("…")
    longer = text[:len(fitted)] + "…"  # one character more would not have fitted
    assert len(longer.encode("utf-8")) > limit


def test_fit_keeps_what_fits_and_refuses_what_never_can() -> None:
    assert fit(lambda c: len(c.encode()), "北辰", 6) == "北辰"
    with pytest.raises(ValueError, match="longer than the channel's limit of 10 bytes"):
        fit(lambda c: 20 + len(c), "北辰", 10)
    assert cut("北辰燃料", 3) == "北辰…" and cut("北辰", 3) == "北辰"


def test_links_are_web_links_with_markdown_significant_characters_encoded() -> None:
    assert link("http://127.0.0.1/a_(b)[c]<d>?x=1&y=2#f") == "http://127.0.0.1/a_%28b%29%5Bc%5D%3Cd%3E?x=1&y=2#f"
    assert link("https://例子.cn/新闻?q='`*{}|^\\") == "https://例子.cn/新闻?q=%27%60%2A%7B%7D%7C%5E%5C"
    assert link("javascript:alert(1)") is None and link("") is None and link("http://a b") is None
