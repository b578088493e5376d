"""Feeds and configured sites are incremental too: a second crawl fetches and spools only what is new."""

from __future__ import annotations

import json
from pathlib import Path

from tests.crawlers.conftest import crawl, source_config
from tests.crawlers.fakes import FakeWeb, html, ingested


def article(n: int) -> str:
    return (f"<html><head><title>北辰乙醇新闻{n}</title></head><body><h1>北辰乙醇新闻{n}</h1>"
            f"<div class='body'><p>{'北辰燃料乙醇公司今日发布第' + str(n) + '号公告，内容涉及生产安排。' * 6}</p></div></body></html>")


def list_page(numbers: list[int], next_href: str = "") -> str:
    links = "".join(f"<li><a class='t' href='/a/{n}.html'>北辰乙醇新闻标题第{n}条</a></li>" for n in numbers)
    more = f"<a class='next' href='{next_href}'>下一页</a>" if next_href else ""
    return f"<html><body><ul>{links}</ul>{more}</body></html>"


def test_site_second_crawl_fetches_only_new_articles_and_stops_paging(tmp_path: Path, web: FakeWeb) -> None:
    for n in range(1, 6):
        web.routes[f"/a/{n}.html"] = lambda q, n=n: html(article(n))
    web.routes["/list"] = lambda q: html(list_page([2, 1], "/list2"))
    web.routes["/list2"] = lambda q: html(list_page([4, 3]))
    cfg = source_config(tmp_path, "site", web.url + "/list", 'link_selector = "a.t"\nnext_selector = "a.next"', name="s")
    done, items = crawl(tmp_path, cfg, "s")
    assert done.returncode == 0, done.stderr
    assert sorted(i["url"].rsplit("/", 1)[1] for i in items) == ["1.html", "2.html", "3.html", "4.html"]

    # One new article on the first list page; the second page holds only what was collected.
    ingested(tmp_path)
    web.seen.clear()
    web.routes["/list"] = lambda q: html(list_page([5, 2, 1], "/list2"))
    done, items = crawl(tmp_path, cfg, "s")
    assert done.returncode == 0, done.stderr
    assert [i["url"].rsplit("/", 1)[1] for i in items] == ["5.html"]
    fetched = {s.path for s in web.seen}
    assert "/a/1.html" not in fetched and "/a/2.html" not in fetched, "collected articles are not fetched again"
    # Page 1 held something new, so page 2 is looked at; it holds nothing new, and no article of it is fetched.
    assert "/a/3.html" not in fetched
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["items"] == 1 and summary["known"] >= 4


def test_feed_second_crawl_spools_only_new_entries(tmp_path: Path, web: FakeWeb) -> None:
    def feed(numbers: list[int]) -> str:
        entries = "".join(f"<item><title>北辰乙醇快讯{n}</title><link>{web.url}/n/{n}</link>"
                          f"<description>北辰乙醇快讯第{n}条的摘要内容</description>"
                          f"<pubDate>Mon, 0{n} Sep 2024 08:00:00 +0800</pubDate></item>" for n in numbers)
        return f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>{entries}</channel></rss>"

    web.routes["/feed.xml"] = lambda q: (200, "application/rss+xml", feed([2, 1]).encode("utf-8"))
    cfg = source_config(tmp_path, "rss", web.url + "/feed.xml", name="f")
    done, items = crawl(tmp_path, cfg, "f")
    assert done.returncode == 0, done.stderr
    assert len(items) == 2

    ingested(tmp_path)
    web.routes["/feed.xml"] = lambda q: (200, "application/rss+xml", feed([3, 2, 1]).encode("utf-8"))
    done, items = crawl(tmp_path, cfg, "f")
    assert done.returncode == 0, done.stderr
    assert [i["url"] for i in items] == [f"{web.url}/n/3"]
