"""Real Scrapy crawls (a process per crawl, as the service runs them) against the local site."""

from __future__ import annotations

from pathlib import Path

from tests.crawlers.conftest import GBK_BODY, crawl, source_config



def config(tmp_path: Path, name: str, type_: str, url: str, extra: str = "") -> Path:
    return source_config(tmp_path, type_, url, extra, name=name)


def by_url(items: list[dict]) -> dict[str, dict]:
    return {item["url"].rsplit("/", 1)[-1]: item for item in items}


def test_rss_feed(tmp_path: Path, site: str) -> None:
    done, items = crawl(tmp_path, config(tmp_path, "feed", "rss", f"{site}/feed.xml", 'platform = "news"\ntier = "local_media"'), "feed")
    assert done.returncode == 0, done.stderr
    assert '"items": 2' in done.stdout
    first = by_url(items)["1.html"]
    assert first["url"] == f"{site}/a/1.html" and first["title"] == "北辰燃料乙醇召开安全生产会议"
    assert first["content"] == "会议部署了安全生产工作。" and first["author"] == "李明"
    assert first["published_at"] == "2024-03-12T08:30:00+08:00"
    assert first["source"] == "feed" and first["platform"] == "news" and first["source_tier"] == "local_media"
    assert first["outlet"] == "白桦新闻"  # the feed's title
    assert first["crawled_at"]


def test_atom_feed_with_full_text_from_the_page(tmp_path: Path, site: str) -> None:
    done, items = crawl(tmp_path, config(tmp_path, "atom", "rss", f"{site}/atom.xml", "follow_links = true"), "atom")
    assert done.returncode == 0, done.stderr
    [item] = items
    assert item["title"] == "北辰乙醇附近有异味" and item["author"] == "河西业主"
    assert "居民希望有关部门尽快查明原因" in item["content"]  # the page's body, longer than the feed's
    assert item["published_at"] == "2024-03-12T10:00:00+08:00"
    assert item["outlet"] == "论坛"  # the feed's title: the page has no og:site_name, and its 来源 line names the original


def test_site_with_configured_selectors_and_paging(tmp_path: Path, site: str) -> None:
    extra = ('link_selector = "ul.news a.t"\nnext_selector = "a.next"\nmax_pages = 2\n'
             'title_selector = "h1"\ncontent_selector = "xpath://div[@class=\'article\']"\ntime_selector = "div.info"')
    done, items = crawl(tmp_path, config(tmp_path, "site1", "site", f"{site}/list.html", extra), "site1")
    assert done.returncode == 0, done.stderr
    pages = by_url(items)
    assert sorted(pages) == ["1.html", "2.html", "4.html"]
    assert pages["1.html"]["title"] == "北辰燃料乙醇召开安全生产会议"
    assert pages["1.html"]["content"].startswith("会议部署了今年的安全生产工作。")
    assert pages["1.html"]["published_at"] == "2024-03-12T08:30:00+08:00"
    assert pages["1.html"]["outlet"] == "白桦日报"  # the page's 来源 line


def test_forum_reply_counts_from_the_thread_page_else_from_its_row_in_the_list(tmp_path: Path, site: str) -> None:
    extra = 'link_selector = "a.t"\nreplies_selector = "td.num a, span.replies"\nmax_pages = 1'
    done, items = crawl(tmp_path, config(tmp_path, "bbs", "site", f"{site}/forum.html", extra), "bbs")
    assert done.returncode == 0, done.stderr
    threads = by_url(items)
    assert threads["1.html"]["metrics"] == {"comments": 12_000}  # 1.2万 in its row (not 3万, its views)
    assert threads["2.html"]["metrics"] == {"comments": 63}  # the thread's own page is newer than the list
    assert threads["1.html"]["outlet"] == "白桦论坛"  # og:site_name
    assert not threads["2.html"].get("outlet")  # the page names none: shown by the source's id


def test_a_sources_display_name_names_its_outlet(tmp_path: Path, site: str) -> None:
    extra = 'display_name = "白桦新闻网"'
    for name, type_, url in (("named-feed", "rss", f"{site}/feed.xml"), ("named-site", "site", f"{site}/list.html")):
        folder = tmp_path / name
        folder.mkdir()
        done, items = crawl(folder, config(folder, name, type_, url, extra + "\nmax_pages = 1"), name)
        assert done.returncode == 0, done.stderr
        assert items and {item["outlet"] for item in items} == {"白桦新闻网"}


def test_site_with_the_generic_fallback(tmp_path: Path, site: str) -> None:
    done, items = crawl(tmp_path, config(tmp_path, "site2", "site", f"{site}/list.html", "max_pages = 1"), "site2")
    assert done.returncode == 0, done.stderr
    pages = by_url(items)
    assert sorted(pages) == ["1.html", "2.html"]  # 首页 / 关于 / 下一页 do not read like headlines
    assert pages["2.html"]["title"] == "白桦风电项目今日正式开工建设"
    assert "总投资十亿元" in pages["2.html"]["content"]
    assert pages["2.html"]["published_at"] == "2024-03-12T08:30:00+08:00"
    assert pages["2.html"]["author"] == "李明"


def test_gbk_pages_decode_with_meta_and_without_any_declaration(tmp_path: Path, site: str) -> None:
    done, items = crawl(tmp_path, config(tmp_path, "gbk", "site", f"{site}/gbk-list.html", 'link_selector = "a.t"'), "gbk")
    assert done.returncode == 0, done.stderr
    pages = by_url(items)
    assert GBK_BODY in pages["gbk-meta.html"]["content"]
    assert GBK_BODY in pages["gbk-bare.html"]["content"]
    assert pages["gbk-bare.html"]["title"] == "异味调查"


def test_broken_empty_and_huge_pages_do_not_stop_the_crawl(tmp_path: Path, site: str) -> None:
    done, items = crawl(tmp_path, config(tmp_path, "bad", "site", f"{site}/broken-list.html", 'link_selector = "a.t"'), "bad")
    assert done.returncode == 0, done.stderr
    pages = by_url(items)
    assert "empty.html" not in pages  # nothing to keep, logged
    assert "没有闭合的标签" in pages["broken.html"]["content"] or pages["broken.html"]["title"] == "北辰乙醇"
    assert len(pages["huge.html"]["content"]) == 200_000  # capped, not crashed


def test_unreadable_feed_gives_no_items_and_no_crash(tmp_path: Path, site: str) -> None:
    done, items = crawl(tmp_path, config(tmp_path, "badfeed", "rss", f"{site}/bad-feed.xml"), "badfeed")
    assert done.returncode == 0, done.stderr
    assert items == [] or all(i["url"] for i in items)


def test_unreachable_source_exits_1_with_a_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = config(tmp_path, "down", "rss", f"http://127.0.0.1:{port}/feed.xml", 'interval = "1m"')
    done, items = crawl(tmp_path, cfg, "down")
    assert done.returncode == 1 and items == []
    assert "crawl of down failed: every request failed" in done.stderr


def test_config_errors_exit_2(tmp_path: Path, site: str) -> None:
    cfg = config(tmp_path, "x", "rss", f"{site}/feed.xml", 'interval = "soon"')
    done, _ = crawl(tmp_path, cfg, "x")
    assert done.returncode == 2 and "sources[0].interval" in done.stderr and "Traceback" not in done.stderr
    cfg = config(tmp_path, "x", "rss", f"{site}/feed.xml")
    done, _ = crawl(tmp_path, cfg, "other")
    assert done.returncode == 2 and "no source named 'other'" in done.stderr
