"""`yuqing sources` and `yuqing extract`, as an administrator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from alerts.state import AlertState
from tests.crawlers.conftest import ARTICLE, serve
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
