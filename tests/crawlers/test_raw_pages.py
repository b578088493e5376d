"""Tieba and Baidu News spiders on raw responses (what the servers sent, before any script ran), one per layout:
see raw/README.md for where each comes from. Real crawls against a local server; the pages' own absolute links
(the next page on tieba.baidu.com, articles on news sites) reach it as the source's proxy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from tests.crawlers.conftest import crawl, source_config
from tests.crawlers.fakes import FakeWeb, as_json, html, ingested
from tests.crawlers.test_platform_spiders import article, tieba_list, tieba_thread
from models import SHANGHAI

RAW = Path(__file__).parent / "raw"
EVER = 'lookback = "20000d"'


def raw(name: str) -> str:
    return (RAW / name).read_text(encoding="utf-8")


def summary(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def month_day(item: dict) -> str:
    return f"{datetime.fromisoformat(item['published_at']):%m-%d %H:%M}"


# ---- Tieba ----

def test_tieba_desktop_list_2020_threads_and_next_page_inside_the_commented_code_blocks(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/f"] = lambda q: html(raw("tieba/desktop-list-2020.html"))  # thread pages: 404, the list's fields stay
    cfg = source_config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}&ie=utf-8",
                        f'{EVER}\nmax_pages = 2\nproxy = "{web.url}"')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    assert sorted(by_id) == ["6516560787", "6966834291"]
    thread = by_id["6966834291"]
    assert thread["url"].endswith("/p/6966834291") and thread["title"] == "美好的一天从早餐开始，想吃面条。"
    assert thread["content"] == "美好的一天从早餐开始，想吃面条。" and thread["author"] == "💫Loo"
    assert thread["metrics"] == {"comments": 15} and month_day(thread) == "09-19 00:00"
    pinned = by_id["6516560787"]
    assert pinned["title"] == "【进吧必读】美食吧新版吧规试行办法" and pinned["author"] == "梦中战苍穹"
    assert pinned["metrics"] == {"comments": 15} and month_day(pinned) == "02-27 00:00"
    # The next page's link is protocol-relative, inside the comment: followed on tieba.baidu.com.
    [second] = [s for s in web.seen if s.host == "tieba.baidu.com" and s.path == "/f"]
    assert second.query == {"kw": "美食", "ie": "utf-8", "pn": "50"}
    assert summary(done.stdout)["errors_by_class"] == {}


def test_tieba_phone_list_2018_threads_and_the_next_page_from_its_script(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/f"] = lambda q: html(raw("tieba/mobile-list-2018.html"))
    cfg = source_config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}&mo_device=1", f"{EVER}\nmax_pages = 2")
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    # The two pinned threads and five others; the advertisement among them has no thread id and is no thread.
    assert sorted(by_id) == ["5888926467", "5916005664", "5917364423", "5917412435", "5918094350", "5918288944",
                             "5918293462"]
    assert by_id["5916005664"]["title"] == "【兼职、二手、租房】2018-2019学年上学期校历第7周专用贴"
    assert by_id["5916005664"]["url"] == f"{web.url}/p/5916005664"
    assert by_id["5917412435"]["title"] == "嗯嗯，，，突然觉悟 天天白天吃饭上课，晚上图书馆或者宿舍 根本没有机会认识小哥哥 🙄🙄🙄🙄 嗯嗯"
    assert by_id["5917412435"]["author"] == "是个小朋友呀" and by_id["5917412435"]["metrics"] == {"comments": 63}
    assert by_id["5918293462"]["author"] == "野原小新君" and by_id["5918293462"]["metrics"] == {"comments": 0}
    assert by_id["5917364423"]["title"] == "想水一贴，又不知道水什么" and by_id["5917364423"]["author"] == "此坑100元"
    # The list shows when a thread was last answered, not when it was started: no publication time from it.
    assert all(item["published_at"] is None for item in items)
    assert [s.query.get("pn") for s in web.asked("/f")] == [None, "50"]
    assert summary(done.stdout)["errors_by_class"] == {}


def test_tieba_thread_pages_old_and_new_give_the_first_floor_and_its_time(tmp_path: Path, web: FakeWeb) -> None:
    rows = tieba_thread(3138733512, "纯原创我心中的NBA2014-2015赛季现役50大", "明之翼", "2014-07", 138)
    rows += tieba_thread(7628238441, "话说，现在2077BUG 还多吗？", "资阳电影资源", "2021-11", 225)
    web.routes["/f"] = lambda q: html(tieba_list(rows))
    web.routes["/p/3138733512"] = lambda q: html(raw("tieba/thread-2014.html"))
    web.routes["/p/7628238441"] = lambda q: html(raw("tieba/thread-2021.html"))
    done, items = crawl(tmp_path, source_config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}", f"{EVER}\nmax_pages = 1"), "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    old = by_id["3138733512"]  # 2014: the time in the floor's `.p_tail`, `span.j_reply_data`
    assert old["title"] == "纯原创我心中的NBA2014-2015赛季现役50大" and old["author"] == "明之翼"
    assert old["author_id"] == "19911799" and old["published_at"] == "2014-07-01T16:22:00+08:00"
    assert old["content"].startswith("很多媒体都在每赛季之前给球员排个名，我也有这个癖好…………，我会尽量理性的分析球队地位，个人能力等因素")
    assert old["content"].endswith("2 今年的新秀我就不考虑了，没上赛季参照")
    new = by_id["7628238441"]  # 2021: the time in the tail line; the floor is a picture, the list's abstract stays
    assert new["title"] == "话说，现在2077BUG 还多吗？" and new["author"] == "Allen" and new["author_id"] == "4088965835"
    assert new["published_at"] == "2021-11-27T10:38:00+08:00" and new["content"] == "话说，现在2077BUG 还多吗？的摘要"
    assert summary(done.stdout)["errors_by_class"] == {}


SHAPE_WITHOUT_THREADS = """<!DOCTYPE html><html><head><meta charset="UTF-8"><title>北辰乙醇吧-百度贴吧</title></head><body>
<div id="pagelet_frs-list/pagelet/thread_list"></div></body></html>
<code class="pagelet_html" id="pagelet_html_frs-list/pagelet/thread_list" style="display:none;"><!--
<ul id="thread_list" class="threadlist_bright j_threadlist_bright"><li class="thread_card">改版后的帖子</li></ul>
--></code>"""


def test_a_tieba_page_without_threads_is_a_parse_breakage_with_its_url(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/f"] = lambda q: html(SHAPE_WITHOUT_THREADS)
    done, items = crawl(tmp_path, source_config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}"), "src")
    assert done.returncode == 1 and items == []
    found = summary(done.stdout)
    assert found["error_class"] == "parse" and found["error_url"] == f"{web.url}/f?kw={quote('北辰乙醇')}"
    assert "without threads" in done.stderr and found["page_url"] == found["error_url"]


def test_json_where_tieba_pages_were_is_a_parse_breakage_not_a_crash(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/f"] = lambda q: html(tieba_list(tieba_thread(7001, "北辰乙醇厂附近晚上有怪味", "河西业主小王", "12:00", 3)))
    web.routes["/p/7001"] = lambda q: as_json({"no": 4, "error": "need login"})
    cfg = source_config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}", f"{EVER}\nmax_pages = 1")
    done, [item] = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert item["title"] == "北辰乙醇厂附近晚上有怪味" and item["author"] == "河西业主小王"  # what the list showed
    found = summary(done.stdout)
    assert found["errors_by_class"] == {"parse": 1} and found["error_url"] == f"{web.url}/p/7001" and found["errors"] == 0
    assert "expected an HTML page, got json" in done.stderr

    ingested(tmp_path)
    web.routes["/f"] = lambda q: as_json({"error": "forum closed"})
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 1 and items == [] and "Traceback" not in done.stderr
    assert summary(done.stdout)["error_class"] == "parse" and summary(done.stdout)["errors"] == 0


# ---- Baidu News ----

def test_baidu_news_results_2017_author_line_layout(tmp_path: Path, web: FakeWeb) -> None:
    web.routes["/ns"] = lambda q: html(raw("baidu_news/results-2017.html"))
    when = datetime(2017, 6, 2, 16, 20, tzinfo=SHANGHAI)
    web.routes["/roll/2017-06-02/doc-ifyfuzmy1234567.shtml"] = lambda q: html(
        article("北辰乙醇厂区附近居民反映夜间异味", when, "居民反映夜间异味严重。" * 5))
    cfg = source_config(tmp_path, "baidu_news", f"{web.url}/ns?word={{keyword}}&tn=news&cl=2&rn=20&ct=1",
                        f'{EVER}\nmax_pages = 2\nproxy = "{web.url}"')
    started = datetime.now(SHANGHAI)
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_url = {item["url"]: item for item in items}
    assert sorted(by_url) == ["http://finance.sina.com.cn/roll/2017-06-02/doc-ifyfuzmy1234567.shtml",
                              "http://news.163.com/17/0602/16/CLUILM79000187VE.html",
                              "http://www.chinanews.com/sh/2014/03-12/5940123.shtml"]
    fetched = by_url["http://finance.sina.com.cn/roll/2017-06-02/doc-ifyfuzmy1234567.shtml"]
    assert fetched["title"] == "北辰乙醇厂区附近居民反映夜间异味" and fetched["published_at"] == when.isoformat()
    # Articles that cannot be fetched keep what the results page showed: the summary after the author line.
    kept = by_url["http://news.163.com/17/0602/16/CLUILM79000187VE.html"]
    assert kept["title"] == "北辰乙醇回应：排放数据全部达标"
    assert kept["content"] == "企业负责人表示，北辰乙醇的在线监测数据全部达标，欢迎公众监督。"
    assert abs(datetime.fromisoformat(kept["published_at"]) - (started - timedelta(hours=3))) < timedelta(minutes=2)
    old = by_url["http://www.chinanews.com/sh/2014/03-12/5940123.shtml"]
    assert old["content"] == "项目环评报告书全文公示，征求公众意见。" and old["published_at"] == "2014-03-12T08:30:00+08:00"
    assert [s.query.get("pn") for s in web.asked("/ns")] == [None, "20"]


def test_baidu_news_results_2021_source_and_time_spans(tmp_path: Path, web: FakeWeb) -> None:
    when = datetime(2021, 11, 27, 9, 0, tzinfo=SHANGHAI)
    web.routes["/s"] = lambda q: html(raw("baidu_news/results-2021.html"))
    web.routes["/2021/11/27/ARTIt8pMmDv0Qd6cCSQaIsQm211127.shtml"] = lambda q: html(
        article("北辰乙醇厂区附近居民反映夜间异味", when, "居民反映夜间异味严重。" * 5))
    cfg = source_config(tmp_path, "baidu_news", f"{web.url}/s?tn=news&rtt=4&word={{keyword}}",
                        f'{EVER}\nmax_pages = 2\nproxy = "{web.url}"')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_url = {item["url"]: item for item in items}
    assert sorted(by_url) == ["http://news.cctv.com/2021/11/27/ARTIt8pMmDv0Qd6cCSQaIsQm211127.shtml",
                              "http://www.chinanews.com/sh/2021/11-27/9617349.shtml"]
    fetched = by_url["http://news.cctv.com/2021/11/27/ARTIt8pMmDv0Qd6cCSQaIsQm211127.shtml"]
    assert fetched["title"] == "北辰乙醇厂区附近居民反映夜间异味" and fetched["published_at"] == when.isoformat()
    kept = by_url["http://www.chinanews.com/sh/2021/11-27/9617349.shtml"]
    assert kept["title"] == "北辰乙醇回应：排放数据全部达标" and kept["content"] == "企业负责人表示，北辰乙醇的在线监测数据全部达标。"
    assert kept["published_at"] == "2021-11-27T10:38:00+08:00"
    assert [s.query.get("pn") for s in web.asked("/s")] == [None, "10"]


def test_a_baidu_results_page_that_says_nothing_is_a_parse_breakage_and_no_results_is_quiet(tmp_path: Path, web: FakeWeb) -> None:
    changed = '<html><head><title>百度资讯搜索_北辰乙醇</title></head><body><div id="content_left"><div class="news-card">北辰乙醇</div></div></body></html>'
    web.routes["/s"] = lambda q: html(changed)
    cfg = source_config(tmp_path, "baidu_news", f"{web.url}/s?tn=news&word={{keyword}}")
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 1 and items == []
    found = summary(done.stdout)
    assert found["error_class"] == "parse" and found["error_url"] == f"{web.url}/s?tn=news&word={quote('北辰乙醇')}"

    nothing = ('<html><body><div id="content_left"><div class="content_none"><div class="nors">'
               '<p>抱歉，没有找到与<span>“</span><em>北辰乙醇</em><span>”</span>相关的新闻。</p></div></div></div></body></html>')
    web.routes["/s"] = lambda q: html(nothing)
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0 and items == [] and summary(done.stdout)["errors_by_class"] == {}
