"""The Weibo spider in real crawls (a process per crawl, through crawlers.run) against a local search API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crawlers.run import crawl_command
from tests.crawlers.conftest import REPO, crawl, write_config
from tests.crawlers.fakes import FakeWeb, WeiboApi, WeiboPost, as_json
from yuqing.models import SHANGHAI

FIXTURE = REPO / ".." / "shared" / "fixtures" / "pages" / "weibo" / "m_weibo_cn_container_getIndex.json"
API = "/api/container/getIndex"

CONFIG = """
[[schemes]]
name = "company"
keywords = ["北辰乙醇"]

[[sources]]
name = "wb"
type = "weibo"
url = "{url}"
download_delay = 0
{extra}
"""


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    server = FakeWeb()
    yield server
    server.close()


def config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return write_config(tmp_path, CONFIG.format(url=url, extra=extra))


def ingested(tmp_path: Path) -> None:
    """What the ingest stage does to a spool file once its posts are stored."""
    for file in (tmp_path / "spool").glob("*.jsonl"):
        file.unlink()


def ids(items: list[dict]) -> list[str]:
    return [item["native_id"] for item in items]


@pytest.mark.skipif(not FIXTURE.is_file(), reason="../shared/fixtures/pages/weibo is absent (a real API response)")
def test_a_real_api_response(tmp_path: Path, web: FakeWeb) -> None:
    real = json.loads(FIXTURE.read_text(encoding="utf-8"))
    web.routes[API] = lambda q: as_json(real) if "since_id" not in q else as_json({"ok": 0, "data": {"cards": []}})
    done, items = crawl(tmp_path, config(tmp_path, web.url + API, 'lookback = "20000d"\nkeywords = ["Lo娘"]'), "wb")
    assert done.returncode == 0, done.stderr
    blogs = [card["mblog"] for card in real["data"]["cards"]]
    originals = {b["retweeted_status"]["id"] for b in blogs if "retweeted_status" in b}
    assert len(originals) == 5
    assert sorted(ids(items)) == sorted([b["id"] for b in blogs] + list(originals))  # each once
    by_id = {item["native_id"]: item for item in items}
    first = by_id["4806111732961615"]
    assert first["author"] == "Lo娘嘀咕嘀咕" and first["author_id"] == "6074526225"
    assert first["author_followers"] == 434_000 and first["author_verified"] is True and first["author_verified_type"] == 0
    assert first["published_at"] == "2022-08-24T22:03:13+08:00"
    assert first["metrics"] == {"reposts": 0, "comments": 68, "likes": blogs[0]["attitudes_count"]}
    assert first["region"] == "浙江" and first["platform"] == "news" and first["source"] == "wb"
    assert "#今日话题#" in first["content"] and "[送花花]" in first["content"] and "<" not in first["content"]
    assert first["url"] == "https://m.weibo.cn/detail/4806111732961615"
    repost = by_id["4806111561517050"]
    assert repost["repost_of"] == "4796328754549490" and repost["content"] == "捞"
    assert by_id["4796328754549490"]["published_at"] == "2022-07-28T22:09:09+08:00"
    assert "repost_of" not in by_id["4796328754549490"]
    # Paging follows cardlistInfo.since_id.
    [second] = [s for s in web.asked(API) if "since_id" in s.query]
    assert second.query["since_id"] == str(real["data"]["cardlistInfo"]["since_id"])
    assert json.loads(second.query["containerid"].removeprefix("100103type=61&q=").join('""')) == "Lo娘"


def story(now: datetime, count: int, start: int = 0, every: timedelta = timedelta(minutes=25)) -> list[WeiboPost]:
    return [WeiboPost(f"48{start + n:014d}", now - every * (n + 1), f"北辰乙醇 第{start + n}条 附近有异味")
            for n in range(count)]


def test_cap_splits_the_window_then_the_next_crawl_stops_at_collected_posts(tmp_path: Path, web: FakeWeb) -> None:
    now = datetime.now(SHANGHAI)
    posts = story(now, 45)  # about 19 hours of posts; 2 pages a query hold only 20
    posts.append(WeiboPost("4799999999999999", now - timedelta(days=3), "北辰乙醇 三天前的旧帖"))
    posts.append(WeiboPost("4700000000000001", now - timedelta(minutes=3), "别的话题"))
    api = WeiboApi(posts, cap=2)
    web.routes[API] = api
    cfg = config(tmp_path, web.url + API, 'max_pages = 2\nlookback = "1d"')
    done, items = crawl(tmp_path, cfg, "wb")
    assert done.returncode == 0, done.stderr
    assert sorted(ids(items)) == sorted(p.mid for p in posts[:45])  # all of the window, each once, nothing older
    assert any("timescope" in s.query["containerid"] for s in web.asked(API))
    assert all(int(s.query["page"]) <= 2 for s in web.asked(API))
    for item in items:
        post = next(p for p in posts if p.mid == item["native_id"])
        assert datetime.fromisoformat(item["published_at"]) == post.time.replace(microsecond=0)
    state = json.loads((tmp_path / "var" / "crawl-state" / "wb.json").read_text(encoding="utf-8"))
    assert set(state["seen"]) == {p.mid for p in posts[:45]} and state["last_run"]

    # Three new posts: the next crawl collects them and stops paging at the posts collected before.
    api.posts += story(datetime.now(SHANGHAI) + timedelta(minutes=1), 3, start=100, every=timedelta(seconds=10))
    web.seen.clear()
    ingested(tmp_path)
    done, items = crawl(tmp_path, cfg, "wb")
    assert done.returncode == 0, done.stderr
    assert sorted(ids(items)) == sorted(p.mid for p in api.posts[-3:])
    assert [s.query["page"] for s in web.asked(API)] == ["1"]  # page 1 held seven collected posts: no page 2
