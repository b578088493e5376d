"""Breakage rules, the lenient JSON reader and the health record, without a crawl."""

from __future__ import annotations

from datetime import timedelta
from email.utils import formatdate
from pathlib import Path

import pytest

from crawlers import breakage
from crawlers.jsontext import loads_lenient
from alerts.health import Run, SourceHealthLog
from models import now


@pytest.mark.parametrize(("url", "expected"), [
    ("https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter", "login"),
    ("https://weixin.sogou.com/antispider/?from=%2fweixin%3Ftype%3d2", "captcha"),
    ("https://wappass.baidu.com/static/captcha/tuxing.html?&ak=c27bbc89", "captcha"),
    ("https://www.zhihu.com/account/unhuman?type=unhuman&message=系统监测到您的网络环境存在异常", "captcha"),
    ("https://www.zhihu.com/signin?next=%2Fsearch", "login"),
    ("https://news.example.com/2024/03/12/login-reform-news.html", None),
    ("https://news.example.com/a/1.html", None),
])
def test_url_classes(url: str, expected: str | None) -> None:
    assert breakage.url_class(url) == expected


def test_an_article_about_verification_codes_is_not_a_captcha_wall() -> None:
    article = f"<html><head><title>警惕冒充客服索要验证码的诈骗</title></head><body>{'<p>警方提醒，验证码不要告诉任何人。</p>' * 200}</body></html>"
    assert not breakage.is_captcha_page(article)
    assert breakage.is_captcha_page('<html><head><title>百度安全验证</title></head><body>网络不给力，请稍后重试</body></html>')
    assert breakage.is_captcha_page('<html><body><div class="g-recaptcha" data-sitekey="x"></div></body></html>')


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    assert breakage.retry_after(b"120", 0) == 120
    at = 1_700_000_000.0
    assert breakage.retry_after(formatdate(at + 90, usegmt=True), at) == pytest.approx(90, abs=1)
    assert breakage.retry_after("soon", at) is None and breakage.retry_after(None, at) is None


def test_truncated_json_keeps_the_complete_part() -> None:
    assert loads_lenient('{"a": [1, 2]}') == ({"a": [1, 2]}, True)
    data, complete = loads_lenient('{"cards": [{"id": 1, "text": "a,]}"}, {"id": 2, "te')
    assert not complete and data == {"cards": [{"id": 1, "text": "a,]}"}, {"id": 2}]}
    with pytest.raises(ValueError):
        loads_lenient("<html>not json</html>")


def test_health_record_statuses(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    log = SourceHealthLog(create_engine(f"sqlite:///{tmp_path / 'h.db'}"))
    start = now()
    assert log.record("s", Run(items=5), start).status(start, 3600) == "ok"
    blocked = log.record("s", Run(error_class="captcha", message="blocked"), start + timedelta(minutes=10))
    assert blocked.status(start + timedelta(minutes=10), 3600) == "blocked" and blocked.consecutive_failures == 1
    quiet = log.record("s", Run(known=3), start + timedelta(minutes=20))  # nothing new, but it served
    assert quiet.status(start + timedelta(minutes=20), 3600) == "ok" and quiet.outage_since is None
    empty = log.record("s", Run(), start + timedelta(minutes=30))
    assert empty.error_class == "empty" and empty.status(start + timedelta(minutes=30), 3600) == "empty"
    assert empty.status(start + timedelta(minutes=91), 3600) == "silent"
    failing = log.record("s", Run(error_class="network"), start + timedelta(minutes=40))
    assert failing.status(start + timedelta(minutes=40), 3600) == "failing" and failing.consecutive_failures == 2
    assert [r["items"] for r in log.get("s").runs] == [5, 0, 0, 0, 0]


def test_a_source_that_served_and_now_yields_nothing_from_a_page_that_answers_is_a_layout_canary(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    log = SourceHealthLog(create_engine(f"sqlite:///{tmp_path / 'h.db'}"))
    start, url = now(), "https://tieba.baidu.com/f?kw=x"
    # A new source whose page does not parse is failing, not a changed layout: it never worked.
    assert log.record("s", Run(error_class="parse", url=url), start).error_class == "parse"
    log.record("s", Run(items=5, url=url), start + timedelta(minutes=10))
    changed = log.record("s", Run(error_class="parse", message="nothing collected", url=url), start + timedelta(minutes=20))
    assert changed.error_class == "layout_changed?" and changed.status(start + timedelta(minutes=20), 3600) == "failing"
    assert changed.message == f"layout_changed? {url} answers but yields nothing (nothing collected)"
    quiet = log.record("s", Run(message="0 items, finished", url=url), start + timedelta(minutes=30))  # no error either
    assert quiet.error_class == "layout_changed?" and url in quiet.message
    assert quiet.status(start + timedelta(minutes=90), 3600) == "silent"  # the admins are told as for any outage
    blocked = log.record("s", Run(error_class="captcha", url=url), start + timedelta(minutes=40))
    assert blocked.error_class == "captcha"  # a wall is not a changed layout
