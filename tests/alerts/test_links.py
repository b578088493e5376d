"""Alert mail writes only http(s) links: anything else a feed sends is shown as text."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from alerts.notifiers.email import render
from models import web_link
from tests.hostile_urls import HOSTILE, SAFE


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def _anchors(html: str) -> list[dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(html)
    return parser.anchors


def _post_alert(url: str) -> dict[str, object]:
    line = {"id": "news:1", "time": "2024-03-05 14:44", "source": "feed", "author": "", "title": "爆炸", "url": url}
    return {"alert_id": 7, "kind": "open", "severity": "high", "severity_label": "高", "scheme": "co",
            "rules": [{"rule": "kw", "title": "kw", "reason": "敏感词：爆炸"}], "reasons": ["kw：敏感词：爆炸"],
            "summary": "kw：敏感词：爆炸", "title": "北辰燃料乙醇 爆炸", "url": url, "source": "feed", "platform": "news",
            "source_tier": "unknown", "tier_label": "未知", "author": "", "published": "", "excerpt": "现场浓烟",
            "posts": [line], "responses": [{**line, "title": "回应"}], "dashboard_url": "http://127.0.0.1:8000/"}


def _source_alert(url: str) -> dict[str, object]:
    return {**_post_alert(url), "template": "source", "kind": "source", "rule": "source-health", "reason": "无新数据", "status": "blocked", "error_class": "captcha", "since": "",
            "last_success": "", "last_attempt": "", "failures": 3, "per_run": [0, 0, 0], "message": ""}


@pytest.mark.parametrize("url", HOSTILE)
def test_the_rule_refuses_every_other_scheme(url: str) -> None:
    assert web_link(url) is None


@pytest.mark.parametrize("url", SAFE)
def test_the_rule_keeps_plain_web_links(url: str) -> None:
    assert web_link(url) == url


@pytest.mark.parametrize("make", [_post_alert, _source_alert], ids=["post", "source"])
@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_links_reach_the_mail_as_text(make, url: str) -> None:  # noqa: ANN001
    _, text, html = render(make(url))
    hrefs = [a["href"] for a in _anchors(html)]
    assert hrefs == ["http://127.0.0.1:8000/"]  # the dashboard's, and nothing from the feed
    if url.strip():
        assert url.strip() in text


@pytest.mark.parametrize("make", [_post_alert, _source_alert], ids=["post", "source"])
@pytest.mark.parametrize("url", SAFE)
def test_web_links_stay_links_and_cannot_break_out_of_the_attribute(make, url: str) -> None:  # noqa: ANN001
    _, _, html = render(make(url))
    anchors = _anchors(html)
    assert [a["href"] for a in anchors].count(url) == (4 if make is _post_alert else 1)  # title, link, post, response
    assert all(set(a) <= {"href", "style"} for a in anchors)


def test_a_dashboard_address_that_is_not_http_is_not_linked() -> None:
    _, _, html = render({**_post_alert("http://127.0.0.1/n/1.html"), "dashboard_url": "javascript:alert(1)"})
    assert [a["href"] for a in _anchors(html)] == ["http://127.0.0.1/n/1.html"] * 4
    assert "打开预警页面" in html
