"""Fault tests: real crawls (a process each, as the service runs them) against a local site that misbehaves
the way real sites do: timeouts, 429 with Retry-After, captcha walls, visitor redirects, 403, truncated
JSON, GBK and Big5 pages; and a source that stops returning results, whose health alert reaches a real
SMTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

import settings as config
from tests.crawlers.conftest import ARTICLE, crawl, serve, write_config
from yuqing.demo.mailsink import MailSink
from models import now
from yuqing.service import Service

BIG5_BODY = "北辰燃料乙醇廠區附近居民反映夜間異味嚴重，環保部門已經介入調查。"
GBK_BODY = "北辰燃料乙醇回应：排放检测数据全部达标，欢迎社会各界监督。"
# Baidu's and Weibo's walls, reduced to what the detection may rely on.
CAPTCHA = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>百度安全验证</title>
<script src="https://wappass.bdimg.com/static/touch/js/mkdjump_v2_21d1ae1.js"></script></head>
<body><div class="timeout hide-callback"><div class="timeout-img"></div><div class="timeout-title">网络不给力，请稍后重试</div>
<button type="button" class="timeout-button">返回首页</button></div></body></html>"""
VISITOR = """<html><head><meta charset="utf-8"><title>Sina Visitor System</title></head>
<body><script>var url = url || {}; (function () { this.l = function (u, c) { }; }).call(url);</script></body></html>"""
FEED_ITEMS = [{"id": str(n), "url": f"/a/{n}.html", "title": f"第{n}条：北辰燃料乙醇新闻",
               "content_html": f"<p>第{n}条的正文。</p>", "date_published": "2024-03-12T08:30:00+08:00",
               "authors": [{"name": "李明"}]} for n in range(1, 4)]
# Cut inside the third item, as a proxy or a timeout leaves it.
TRUNCATED_FEED = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "白桦",
                             "items": FEED_ITEMS}, ensure_ascii=False)[:-60]


def _list(*paths: str) -> str:
    links = "".join(f'<li><a href="{p}">北辰燃料乙醇新闻标题第{i}条</a></li>' for i, p in enumerate(paths))
    return f'<html><head><meta charset="utf-8"><title>新闻列表</title></head><body><ul>{links}</ul></body></html>'


class _Faults(BaseHTTPRequestHandler):
    hits: dict[str, list[float]] = {}
    serving = {"news": True}

    def do_GET(self) -> None:  # noqa: N802
        self.hits.setdefault(self.path, []).append(time.monotonic())
        html = "text/html; charset=utf-8"
        path, first = self.path, len(self.hits[self.path]) == 1
        if path == "/robots.txt":
            return self._send(200, "text/plain", b"User-agent: *\nAllow: /\n")
        if path == "/slow/list.html":
            time.sleep(3)
            return self._send(200, html, _list("/a/1.html").encode())
        if path == "/limited/list.html" and first:
            return self._send(429, "text/plain", b"slow down", {"Retry-After": "2"})
        if path == "/limited/list.html":
            return self._send(200, html, _list("/a/1.html").encode())
        if path == "/captcha/list.html":
            return self._send(200, html, CAPTCHA.encode())
        if path == "/weibo/list.html":
            return self._send(302, html, b"", {"Location": "/visitor/visitor?entry=miniblog&a=enter&url=%2Fweibo%2F"})
        if path.startswith("/visitor/"):
            return self._send(200, html, VISITOR.encode())
        if path == "/forbidden/list.html":
            return self._send(403, html, b"<html><body>Forbidden</body></html>")
        if path == "/feed.json":
            return self._send(200, "application/feed+json", TRUNCATED_FEED.encode())
        if path == "/news/list.html":
            return self._send(200, html, (_list("/a/1.html", "/a/2.html") if self.serving["news"] else _list()).encode())
        if path == "/cjk/list.html":
            return self._send(200, html, _list("/big5-meta.html", "/big5-bare.html", "/gbk-mislabelled.html").encode())
        if path == "/big5-meta.html":
            page = f'<html><head><meta charset="big5"><title>異味調查</title></head><body><h1>異味調查</h1><p>{BIG5_BODY}</p></body></html>'
            return self._send(200, "text/html", page.encode("big5"))
        if path == "/big5-bare.html":
            page = f"<html><head><title>異味調查</title></head><body><h1>異味調查</h1><p>{BIG5_BODY * 3}</p></body></html>"
            return self._send(200, "text/html", page.encode("big5"))
        if path == "/gbk-mislabelled.html":  # the server says UTF-8; the bytes are GBK
            page = f"<html><head><title>企业回应</title></head><body><h1>企业回应</h1><p>{GBK_BODY * 3}</p></body></html>"
            return self._send(200, html, page.encode("gbk"))
        if path.startswith("/a/"):
            page = ARTICLE.format(title=f"北辰燃料乙醇新闻{path[3:-5]}", body="北辰燃料乙醇今日发布公告。" * 5)
            return self._send(200, html, page.encode())
        return self._send(404, "text/plain", b"")

    def _send(self, status: int, kind: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            pass  # the crawler gave up waiting (the timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def faults() -> Iterator[str]:
    with serve(_Faults) as base:
        yield base


def _config(tmp_path: Path, url: str, type_: str = "site", extra: str = "") -> Path:
    return write_config(tmp_path, f'[[sources]]\nname = "s"\ntype = "{type_}"\nurl = "{url}"\n'
                                  f'download_delay = 0\n{extra}\n')


def _summary(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_timeout_is_classified(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/slow/list.html", extra='download_timeout = "1s"'), "s")
    assert done.returncode == 1 and items == []
    summary = _summary(done.stdout)
    assert summary["error_class"] == "timeout" and summary["errors_by_class"]["timeout"] == 3  # two retries


def test_429_waits_for_retry_after_then_crawls(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/limited/list.html"), "s")
    assert done.returncode == 0, done.stderr
    first, second = _Faults.hits["/limited/list.html"][:2]
    assert second - first >= 1.9  # the retry waited as long as the site asked
    assert [i["title"] for i in items] == ["北辰燃料乙醇新闻1"]
    assert _summary(done.stdout)["errors_by_class"] == {"rate_limited": 1}


def test_captcha_page_is_blocked_not_content(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/captcha/list.html"), "s")
    assert done.returncode == 1 and items == []
    assert _summary(done.stdout)["error_class"] == "captcha"
    assert f"blocked (captcha at {faults}/captcha/list.html)" in done.stderr


def test_visitor_redirect_is_a_login_wall(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/weibo/list.html"), "s")
    assert done.returncode == 1 and items == []
    summary = _summary(done.stdout)
    assert summary["error_class"] == "login" and summary["error_url"] == f"{faults}/weibo/list.html"
    assert not any(p.startswith("/visitor/") for p in _Faults.hits)  # the wall is not even fetched


def test_forbidden(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/forbidden/list.html"), "s")
    assert done.returncode == 1 and items == []
    assert _summary(done.stdout)["error_class"] == "forbidden"


def test_truncated_json_feed_keeps_what_is_known(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/feed.json", type_="rss"), "s")
    assert done.returncode == 0, done.stderr
    assert [i["title"] for i in items] == [f"第{n}条：北辰燃料乙醇新闻" for n in (1, 2, 3)]
    assert items[0]["author"] == "李明" and items[0]["content"] == "第1条的正文。"
    assert items[2]["author"] == "" and items[2]["published_at"] is None  # cut off before them
    assert items[0]["url"] == f"{faults}/a/1.html" and items[0]["published_at"] == "2024-03-12T08:30:00+08:00"
    assert _summary(done.stdout)["errors_by_class"] == {"parse": 1}
    assert f"{faults}/feed.json: truncated or broken JSON" in done.stderr


def test_big5_and_mislabelled_gbk_pages_decode(tmp_path: Path, faults: str) -> None:
    done, items = crawl(tmp_path, _config(tmp_path, f"{faults}/cjk/list.html"), "s")
    assert done.returncode == 0, done.stderr
    pages = {i["url"].rsplit("/", 1)[-1]: i for i in items}
    assert BIG5_BODY in pages["big5-meta.html"]["content"]
    assert BIG5_BODY in pages["big5-bare.html"]["content"] and pages["big5-bare.html"]["title"] == "異味調查"
    assert GBK_BODY in pages["gbk-mislabelled.html"]["content"]


HEALTH_CONFIG = """
[store]
path = "{store}"

[[sources]]
name = "baihua"
type = "site"
url = "{site}/news/list.html"
interval = "1h"
alert_after = "2s"
download_delay = 0

[alerts]
recipients = ["oncall@example.com"]
admins = ["admin@example.com"]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout = "3s"
"""


def test_a_source_that_stops_returning_results_alerts_the_admins_once(tmp_path: Path, faults: str) -> None:
    with MailSink(tmp_path / "mail") as mail:
        path = tmp_path / "yuqing.toml"
        path.write_text(HEALTH_CONFIG.format(store=(tmp_path / "var").as_posix(), site=faults, smtp_port=mail.port),
                        encoding="utf-8")
        service = Service(config.load(path), path)
        try:
            _Faults.serving["news"] = True
            assert service.crawl("baihua").items == 2
            _Faults.serving["news"] = False
            assert service.crawl("baihua").items == 0
            [row] = service.health.report(service.settings.sources, now())
            # The list still answers 200 but yields nothing: the layout-change canary, with the page's URL.
            assert row["status"] == "failing" and row["error_class"] == "layout_changed?" and row["items"] == [2, 0]
            assert row["message"].startswith(f"layout_changed? {faults}/news/list.html answers but yields nothing")
            assert mail.received == []  # not yet: the window is 2 seconds
            time.sleep(2.2)
            service.process()
            assert service.health.report(service.settings.sources, now())[0]["status"] == "silent"
            service.process()
            service.crawl("baihua")  # still nothing: the same outage
            [message] = mail.messages()
            assert message["To"] == "admin@example.com" and "baihua" in message["Subject"]
            text = message.get_body(("plain",)).get_content()
            assert "layout_changed?" in text and "2, 0" in text and f"{faults}/news/list.html" in text

            _Faults.serving["news"] = True
            service.crawl("baihua")  # recovered: the alert is resolved
            assert service.alert_state.recent_alerts(5)[0]["state"] == "resolved"
            _Faults.serving["news"] = False
            service.crawl("baihua")
            time.sleep(2.2)
            service.process()  # broken again: a new outage, a new alert
            assert len(mail.received) == 2
        finally:
            _Faults.serving["news"] = True
            service.stop()
