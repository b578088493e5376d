"""The Weibo spider in real crawls (a process per crawl, through crawlers.run) against a local search API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crawlers.run import crawl_command
from tests.crawlers.conftest import RAW, REPO, crawl, source_config
from tests.crawlers.fakes import FakeWeb, WeiboApi, WeiboPost, as_json, ingested
from models import SHANGHAI

FIXTURE = REPO / ".." / "shared" / "fixtures" / "pages" / "weibo" / "m_weibo_cn_container_getIndex.json"
API = "/api/container/getIndex"




def config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return source_config(tmp_path, "weibo", url, extra, name="wb")


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


def test_the_older_shape_cards_at_the_top_and_card_type_as_a_string(tmp_path: Path, web: FakeWeb) -> None:
    older = (RAW / "weibo" / "container_getIndex_top_level_written.json").read_bytes()
    web.routes[API] = lambda q: ((200, "application/json; charset=utf-8", older) if q["page"] == "1"
                                 else as_json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}))
    done, items = crawl(tmp_path, config(tmp_path, web.url + API, 'lookback = "20000d"'), "wb")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    # Two posts in a card_group, one at the top, and the original of the repost.
    assert sorted(by_id) == ["4143790265427190", "4143823047218811", "4143851245869128", "4143862019831245"]
    first = by_id["4143851245869128"]
    assert first["content"] == "#北辰乙醇# 河西这边晚上又是一股酸味[怒]\n开窗都不敢开"  # an emoticon's alt unquoted
    assert first["author"] == "河西业主小王" and first["author_id"] == "5512340987" and first["author_followers"] == 128
    assert first["author_verified"] is False and first["author_verified_type"] == -1
    assert first["metrics"] == {"reposts": 2, "comments": 5, "likes": 11}
    assert first["published_at"].endswith("-08-22T00:00:00+08:00")  # "08-22": the day, no year, no time
    repost = by_id["4143862019831245"]
    assert repost["repost_of"] == "4143823047218811" and repost["author"] == "白桦日报"
    assert repost["content"] == "转发理由：希望尽快公开检测数据//@吉林环境:已收到反映，正在核查。"
    assert repost["author_followers"] == 356_000 and repost["author_verified_type"] == 3
    assert repost["published_at"] == "2017-08-22T18:40:11+08:00"
    original = by_id["4143823047218811"]
    assert original["author"] == "吉林环境" and original["author_followers"] == 120_000
    assert original["metrics"] == {"reposts": 153, "comments": 88, "likes": 210}
    assert by_id["4143790265427190"]["published_at"] == "2017-08-22T13:55:30+08:00"
    assert [s.query["page"] for s in web.asked(API)] == ["1", "2"]


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
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["known"] >= 7, "posts collected before are counted, so the source's health reads them as quiet"


def test_relative_times_and_large_counts(tmp_path: Path, web: FakeWeb) -> None:
    now = datetime.now(SHANGHAI)
    posts = [WeiboPost(f"4811{n:012d}", now - age, f"北辰乙醇 {n}", followers="43.4万", style="relative")
             for n, age in enumerate([timedelta(seconds=20), timedelta(minutes=5), timedelta(hours=20)])]
    web.routes[API] = WeiboApi(posts)
    done, items = crawl(tmp_path, config(tmp_path, web.url + API), "wb")
    assert done.returncode == 0, done.stderr
    assert len(items) == 3
    for item in items:
        post = next(p for p in posts if p.mid == item["native_id"])
        assert abs(datetime.fromisoformat(item["published_at"]) - post.time) < timedelta(minutes=2)
        assert item["author_followers"] == 434_000 and item["metrics"]["comments"] == 12_000
        assert item["region"] == "吉林" and item["author_verified"] is False


def test_malformed_responses_keep_what_is_known_and_warn_with_the_url(tmp_path: Path, web: FakeWeb) -> None:
    def api(query: dict[str, str]) -> tuple[int, str, bytes]:
        if "q=断" in query["containerid"]:
            return 200, "application/json", b'{"ok":1,"data":{"cards":[{"card_type":9,"mblog":{"id":"1'
        return as_json({"ok": 1, "data": {"cards": [
            {"card_type": 9, "mblog": {"id": "4822000000000001", "text": "北辰乙醇 只有正文"}},
            {"card_type": 9, "mblog": {"text": "没有编号的帖子"}},
            {"card_type": 9, "mblog": {"id": "4822000000000002", "created_at": "某天", "text": "时间写坏了",
                                       "user": "not a user", "reposts_count": "很多"}},
            {"card_type": 9, "mblog": None}, "not a card",
        ]}})

    web.routes[API] = api
    done, items = crawl(tmp_path, config(tmp_path, web.url + API, 'keywords = ["断", "缺"]'), "wb")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    assert sorted(by_id) == ["4822000000000001", "4822000000000002"]
    assert by_id["4822000000000001"]["content"] == "北辰乙醇 只有正文" and by_id["4822000000000001"]["author"] == ""
    assert by_id["4822000000000002"]["published_at"] is None and by_id["4822000000000002"]["metrics"]["reposts"] == 0
    assert f"{web.url}{API}?containerid=100103type%3D61%26q%3D%E6%96%AD" in done.stderr
    assert "truncated or broken JSON; kept what was complete" in done.stderr
    assert "a post without an id" in done.stderr and "has no readable time ('某天')" in done.stderr


def test_proxy_headers_and_cookies_from_the_config(tmp_path: Path, web: FakeWeb) -> None:
    web.routes[API] = WeiboApi(story(datetime.now(SHANGHAI), 3))
    extra = f'proxy = "{web.url}"\nheaders = {{ X-Client = "yuqing-test" }}\ncookies = {{ SUB = "token123" }}'
    # The host does not resolve: only the proxy reaches it.
    done, items = crawl(tmp_path, config(tmp_path, "http://m.weibo.invalid" + API, extra), "wb")
    assert done.returncode == 0, done.stderr
    assert len(items) == 3
    assert {s.host for s in web.seen} == {"m.weibo.invalid"} and web.asked("/robots.txt")
    searches = web.asked(API)
    assert all(s.headers.get("x-client") == "yuqing-test" and "SUB=token123" in s.headers.get("cookie", "")
               for s in searches)


def test_a_stopped_crawl_resumes_where_it_stopped(tmp_path: Path, web: FakeWeb) -> None:
    api = WeiboApi(story(datetime.now(SHANGHAI), 48, every=timedelta(minutes=10)), hold=threading.Event(), hold_page=3)
    web.routes[API] = api
    cfg = config(tmp_path, web.url + API, "max_pages = 10")
    spool = tmp_path / "spool"
    stopped = subprocess.Popen(crawl_command("wb", cfg, spool), cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(s.query.get("page") == "3" for s in web.asked(API)):
        assert time.monotonic() < deadline and stopped.poll() is None, "the crawl never reached page 3"
        time.sleep(0.05)
    stopped.send_signal(signal.SIGTERM)  # what the service does on shutdown; page 3 is still being answered
    time.sleep(0.5)
    api.hold.set()
    out, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 1 and "stopped (shutdown)" in err, err
    jobs = tmp_path / "var" / "crawl-jobs" / "wb"
    assert (jobs / "spider.state").exists() and not (tmp_path / "var" / "crawl-state" / "wb.json").exists()
    first = [json.loads(line) for f in spool.glob("*.jsonl") for line in f.read_text(encoding="utf-8").splitlines()]
    assert 20 <= len(first) < 48

    web.seen.clear()
    done, items = crawl(tmp_path, cfg, "wb")  # reads every spool file: the stopped crawl's and the resumed one's
    assert done.returncode == 0, done.stderr
    assert sorted(ids(items)) == sorted(p.mid for p in api.posts)  # nothing lost, nothing twice
    assert "2" not in [s.query["page"] for s in web.asked(API)]  # resumed from its queue, not from the start
    assert not jobs.exists() and (tmp_path / "var" / "crawl-state" / "wb.json").exists()
    assert os.listdir(spool) and not list(spool.glob("*.part"))
