"""`yuqing sources` and `yuqing extract`, as an administrator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from alerts.state import AlertState
from tests.crawlers.conftest import ARTICLE, RAW, serve
from tests.crawlers.fakes import FakeWeb
from tests.crawlers.test_faults import _Faults
from alerts.health import Run, SourceHealthLog
from models import now

CONFIG = """
[store]
path = "{path}"

[[sources]]
name = "weibo"
type = "site"
url = "http://127.0.0.1:9/weibo/"
interval = "10m"

[[sources]]
name = "news"
type = "site"
url = "{site}/a/1.html"
title_selector = "h1"
author_selector = "span.missing"
alert_after = "2h"
"""


def yuqing(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def _config(tmp_path: Path, site: str = "http://127.0.0.1:9") -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(path=(tmp_path / "var").as_posix(), site=site), encoding="utf-8")
    return path


def test_sources_table_and_json(tmp_path: Path) -> None:
    config = _config(tmp_path)
    state = AlertState.for_data_dir(tmp_path / "var")
    health = SourceHealthLog(state.engine)
    start = now() - timedelta(hours=1)
    health.record("weibo", Run(items=30), start)
    health.record("weibo", Run(error_class="login", message="blocked (login at http://127.0.0.1:9/weibo/)"),
                  start + timedelta(minutes=10))
    state.close()

    rows = json.loads(yuqing("sources", "--format", "json", "--config", str(config), cwd=tmp_path).stdout)
    weibo, news = rows
    assert weibo["status"] == "blocked" and weibo["error_class"] == "login" and weibo["items"] == [30, 0]
    assert weibo["consecutive_failures"] == 1 and weibo["alert_after"] == 3600  # max(3 x 10m, 1h)
    assert news["status"] == "pending" and news["alert_after"] == 7200 and news["last_attempt"] is None
    table = yuqing("sources", "--config", str(config), cwd=tmp_path)
    assert table.returncode == 0 and "blocked" in table.stdout and "pending" in table.stdout


def test_extract_a_file_and_a_url_with_a_source(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(ARTICLE.format(title="北辰燃料乙醇召开安全生产会议", body="会议部署了安全生产工作。" * 20).encode("gbk"))
    done = yuqing("extract", str(page), cwd=tmp_path)  # GBK without a declaration: detected
    article = json.loads(done.stdout)
    assert article["title"] == "北辰燃料乙醇召开安全生产会议" and article["published_at"] == "2024-03-12T08:30:00+08:00"
    assert article["author"] == "李明" and article["source"] == "白桦日报" and "会议部署了安全生产工作" in article["content"]

    with serve(_Faults) as site:
        done = yuqing("extract", f"{site}/a/7.html", "--source", "news", "--config", str(_config(tmp_path, site)),
                      cwd=tmp_path)
    article = json.loads(done.stdout)
    assert article["title"] == "北辰燃料乙醇新闻7" and article["author"] == "李明"  # the generic extractor fills in
    assert "selector 'span.missing' for author found nothing" in done.stderr
    assert set(article) == {"title", "published_at", "author", "source", "content"}


def test_extract_reports_a_missing_file(tmp_path: Path) -> None:
    done = yuqing("extract", "nowhere.html", cwd=tmp_path)
    assert done.returncode == 1 and "nowhere.html: no such file" in done.stderr


PLATFORMS = """
[store]
path = "{path}"

[[schemes]]
name = "company"
keywords = ["北辰乙醇"]

[[sources]]
name = "zh"
type = "zhihu"
cookies = {{ z_c0 = "session-token" }}

[[sources]]
name = "wb"
type = "weibo"

[[sources]]
name = "wx"
type = "wechat"
"""


def test_extract_the_posts_a_platform_page_yields(tmp_path: Path) -> None:
    config = tmp_path / "yuqing.toml"
    config.write_text(PLATFORMS.format(path=(tmp_path / "var").as_posix()), encoding="utf-8")

    def posts(page: Path | str, source: str) -> tuple[subprocess.CompletedProcess[str], dict]:
        done = yuqing("extract", str(page), "--source", source, "--config", str(config), cwd=tmp_path)
        return done, json.loads(done.stdout)

    done, found = posts(RAW / "zhihu" / "api_search_v3_general_written.json", "zh")
    assert done.returncode == 0, done.stderr
    assert [item["native_id"] for item in found["items"]] == [
        "answer:1970000000000000001", "article:1970000000000000002", "zvideo:1980000000000000003",
        "question:1960000000000000004"]
    assert found["items"][0]["published_at"] == "2026-11-22T06:26:40+08:00" and found["error_class"] is None
    assert found["pages"] and "offset=20" in found["pages"][0]  # where a crawl would go next

    done, found = posts(RAW / "weibo" / "container_getIndex_top_level_written.json", "wb")
    assert done.returncode == 0 and len(found["items"]) == 4, done.stderr

    done, found = posts(RAW / "wechat" / "sogou_results_2017.html", "wx")
    assert done.returncode == 0, done.stderr
    assert [(item["author"], item["published_at"]) for item in found["items"]] == [
        ("占豪", "2017-07-01T19:35:51+08:00"), ("才华有限青年", "2017-06-30T22:35:40+08:00")]

    page = RAW / "zhihu" / "search_page_written.html"
    done, found = posts(page, "zh")
    assert done.returncode == 1 and found["items"] == [] and found["error_class"] == "parse"
    assert f"no posts; parse breakage at {page.resolve().as_uri()}" in done.stderr
    assert "its initial data holds no results" in done.stderr and "Traceback" not in done.stderr

    web = FakeWeb()
    try:
        answer = (RAW / "zhihu" / "api_search_v3_general_2025.json").read_bytes()
        web.routes["/api/v4/search_v3"] = lambda q: (200, "application/json", answer)
        done, found = posts(f"{web.url}/api/v4/search_v3?t=general&q=kotlin", "zh")
        [asked] = web.asked("/api/v4/search_v3")
    finally:
        web.close()
    assert done.returncode == 0 and [item["author"] for item in found["items"]] == ["脱敏作者"], done.stderr
    assert asked.headers["cookie"] == "z_c0=session-token"  # the source's cookies go with the request
