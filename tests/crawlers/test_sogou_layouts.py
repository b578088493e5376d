"""The WeChat spider on Sogou Weixin's results pages as the server sends them, in both layouts: the older one (a
real page of 2017: links straight to mp.weixin.qq.com, account in `a.account`, time in `.s-p[t]`) and the newer
one (links through `/link?url=`, account in `span.all-time-y2`, time written by script)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.crawlers.conftest import RAW, crawl, source_config
from tests.crawlers.fakes import FakeWeb, as_json, html
from tests.crawlers.test_platform_spiders import sogou_redirect, wechat_article
from models import SHANGHAI

HTML = "text/html; charset=utf-8"


def config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return source_config(tmp_path, "wechat", url, 'lookback = "20000d"\nmax_pages = 1\n' + extra)


def raw(name: str) -> bytes:
    return (RAW / "wechat" / name).read_bytes()


def test_the_older_layout_links_straight_to_the_articles(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/weixin"] = lambda q: (200, HTML, raw("sogou_results_2017.html"))
    first = datetime(2017, 7, 1, 19, 35, 51, tzinfo=SHANGHAI)
    # The first result's article answers; the second's link has expired and keeps what Sogou showed.
    web.routes["/s"] = lambda q: (html(wechat_article("高考有多重要", "占豪", first, "针对这个问题。"))
                                  if q["signature"].startswith("VqOGyWi") else (404, "text/plain", b"gone"))
    # The results link to the real hosts: the source's proxy (the local server) answers for them.
    cfg = config(tmp_path, "http://weixin.sogou.com/weixin?type=2&query={keyword}", f'proxy = "{web.url}"')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_title = {item["title"]: item for item in items}
    assert sorted(by_title) == ["高考:穷人考不好,中产考状元,精英不高考", "高考有多重要"]
    fetched = by_title["高考有多重要"]
    assert fetched["author"] == "占豪" and fetched["content"] == "针对这个问题。欢迎留言。"
    assert fetched["published_at"] == "2017-07-01T19:35:51+08:00"
    assert fetched["url"].startswith("http://mp.weixin.qq.com/s?src=3&timestamp=1500052504&ver=1&signature=VqOGyWi")
    listed = by_title["高考:穷人考不好,中产考状元,精英不高考"]
    assert listed["author"] == "才华有限青年" and listed["published_at"] == "2017-06-30T22:35:40+08:00"
    assert listed["content"] == "#条条大路通罗马,有人就出生在罗马#前几天北京文科高考状元熊轩昂接受澎湃新闻的采访的时候,说了下面这段话. “农村地区的..."
    assert {s.host for s in web.asked("/s")} == {"mp.weixin.qq.com"}
    state = json.loads((tmp_path / "var" / "crawl-state" / "src.json").read_text(encoding="utf-8"))
    assert sorted(state["seen"]) == ["ab735a258a90e8e1-6bee54fcbd896b2a-83cfcd22fbb11285d4fbcc20fbf0e3aa",
                                     "ab735a258a90e8e1-6bee54fcbd896b2a-d08ff68b7dc188bfa51161513b1b65b3"]


def test_the_newer_layout_links_through_sogou_and_writes_account_and_time_elsewhere(tmp_path: Path,
                                                                                    web: FakeWeb) -> None:
    web.routes["/weixin"] = lambda q: (200, HTML, raw("sogou_results_2020_written.html"))
    # Sogou's link answers with a script that puts the article's address together; /s/one has expired.
    web.routes["/link"] = lambda q: html(sogou_redirect(f"{web.url}/s/{'one' if 'Ykwrm' in q['url'] else 'two'}"))
    when = datetime(2020, 8, 30, 17, 0, tzinfo=SHANGHAI)
    web.routes["/s/two"] = lambda q: html(wechat_article("燃料乙醇企业的一天", "乙醇人", when, "玉米进厂。"))
    done, items = crawl(tmp_path, config(tmp_path, f"{web.url}/weixin?type=2&query={{keyword}}"), "src")
    assert done.returncode == 0, done.stderr
    by_author = {item["author"]: item for item in items}
    assert sorted(by_author) == ["乙醇人", "白桦发布"]
    listed = by_author["白桦发布"]
    assert listed["title"] == "北辰乙醇回应河西异味:已委托第三方检测" and listed["published_at"] == "2020-08-31T17:00:00+08:00"
    assert listed["content"] == "针对近期河西片区居民反映的夜间异味,北辰乙醇表示已委托第三方机构开展检测,结果将向社会公布..."
    assert listed["url"].startswith(f"{web.url}/link?url=dn9a_-gY295K0Rci_xozVXfdMkSQTLW6cwJThYulHEtVjXrGTiVgSwQeTXPSL2cJt6wq")
    fetched = by_author["乙醇人"]
    assert fetched["title"] == "燃料乙醇企业的一天" and fetched["content"] == "玉米进厂。欢迎留言。"
    assert fetched["url"] == f"{web.url}/s/two" and fetched["published_at"] == "2020-08-30T17:00:00+08:00"
    # The results carry no `d` id and their links a token that changes with every search: they are known by
    # account, title and time.
    state = json.loads((tmp_path / "var" / "crawl-state" / "src.json").read_text(encoding="utf-8"))
    assert sorted(state["seen"]) == ["乙醇人:燃料乙醇企业的一天:走进北辰乙醇:2020-08-30T17:00:00+08:00",
                                     "白桦发布:北辰乙醇回应河西异味:已委托第三方检测:2020-08-31T17:00:00+08:00"]


def test_no_results_said_by_sogou_is_quiet_anything_else_without_results_is_a_breakage(tmp_path: Path,
                                                                                      web: FakeWeb) -> None:
    # Sogou's own word that there is nothing (since 2017: `div#noresult_part1_container`).
    web.routes["/none"] = lambda q: html('<html><body><div class="b404-box" id="noresult_part1_container"><p>暂无与'
                                         '“北辰乙醇”相关的微信公众号文章</p></div></body></html>')
    web.routes["/changed"] = lambda q: html('<html><body><div class="news-box"><ol class="result-list"><li>'
                                            '<h4><a href="/link?url=x">北辰乙醇</a></h4></li></ol></div></body></html>')
    web.routes["/json"] = lambda q: as_json({"ok": 1, "data": []})
    done, items = crawl(tmp_path, config(tmp_path, f"{web.url}/none?type=2&query={{keyword}}"), "src")
    assert done.returncode == 0 and items == [], done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["errors_by_class"] == {}
    for path, why in (("/changed", "no results and no word that there are none"), ("/json", "not a results page")):
        done, items = crawl(tmp_path, config(tmp_path, f"{web.url}{path}?type=2&query={{keyword}}"), "src")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        assert done.returncode == 1 and items == [] and "Traceback" not in done.stderr
        assert found["error_class"] == "parse" and found["error_url"] == f"{web.url}{path}?type=2&query=%E5%8C%97%E8%BE%B0%E4%B9%99%E9%86%87"
        assert why in done.stderr
