"""Baidu News, Tieba and WeChat (through Sogou) spiders in real crawls against local pages in the shapes
of the real sites; real saved pages from ../shared where we have them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.crawlers.conftest import REPO, crawl, source_config
from tests.crawlers.fakes import FakeWeb, html, ingested
from models import SHANGHAI

PAGES = REPO / ".." / "shared" / "fixtures" / "pages" / "news"
NOW = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
AN_HOUR_AGO, TWO_HOURS_AGO, THREE_DAYS_AGO = NOW - timedelta(hours=1), NOW - timedelta(hours=2), NOW - timedelta(days=3)




def config(tmp_path: Path, type_: str, url: str, extra: str = "") -> Path:
    return source_config(tmp_path, type_, url, extra)


def real_page(name: str) -> str:
    path = PAGES / name
    if not path.is_file():
        pytest.skip(f"../shared/fixtures/pages/news/{name} is absent (a real saved page)")
    return path.read_text(encoding="utf-8")


def article(title: str, when: datetime, body: str) -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}_白桦新闻网</title>
<meta property="article:published_time" content="{when.isoformat()}"></head><body><h1>{title}</h1>
<div class="info">{when:%Y-%m-%d %H:%M} 来源：白桦日报 作者：王芳</div><div class="article"><p>{body}</p>
<p>记者在现场看到，相关部门已经介入调查，企业表示将全力配合，并将尽快公布检测结果。</p></div></body></html>"""


# ---- Baidu News ----

def baidu_result(url: str, title: str, when: str, summary: str) -> str:
    return f"""<div class="result-op c-container xpath-log new-pmd" srcid="200" mu="{url}"><div class="c-row">
<h3 class="news-title_1YtI1"><a href="{url}" target="_blank" data-click="{{}}"><!--s-text-->{title}<!--/s-text--></a></h3>
<div class="news-source"><span class="c-color-gray c-font-normal c-gap-right" aria-label="新闻来源：白桦日报">白桦日报</span>
<span class="c-color-gray2 c-font-normal c-gap-right-xsmall" aria-label="发布于：{when}">{when}</span></div>
<span class="c-font-normal c-color-text" aria-label="摘要：{summary}"><!--s-text-->{summary}<!--/s-text--></span></div></div>"""


def baidu_page(results: str, next_pn: int | None) -> str:
    more = f'<a class="n" href="/s?tn=news&amp;rtt=4&amp;word=x&amp;pn={next_pn}">下一页 &gt;</a>' if next_pn else ""
    return f"""<html><head><meta charset="utf-8"><title>百度资讯搜索_北辰乙醇</title></head><body><div id="wrapper">
<div id="container"><div id="content_left">{results}</div><div id="page"><div class="page-inner">
<strong><span class="pc">1</span></strong><a href="/s?tn=news&amp;pn=10"><span class="pc">2</span></a>{more}</div></div>
</div></div></body></html>"""


def test_baidu_news_results_then_articles_and_the_next_crawl_stops_at_collected_ones(tmp_path: Path, web: FakeWeb) -> None:
    site = web.url
    first = "".join([
        baidu_result(f"{site}/news/1.html", "北辰乙醇<em>异味</em>调查", "1小时前", "居民反映夜间异味"),
        baidu_result(f"{site}/news/2.html", "北辰乙醇回应", f"{'今天' if TWO_HOURS_AGO.date() == NOW.date() else '昨天'} "
                     f"{TWO_HOURS_AGO:%H:%M}", "企业回应称排放达标"),
        baidu_result(f"{site}/news/gone.html", "北辰乙醇被约谈", "2小时前", "环保部门约谈企业负责人"),
    ])
    second = "".join([
        baidu_result(f"{site}/news/3.html", "北辰乙醇整改", "1小时前", "整改方案公布"),
        baidu_result(f"{site}/news/old.html", "北辰乙醇旧闻", f"{THREE_DAYS_AGO:%Y年%m月%d日 %H:%M}", "三天前的消息"),
    ])
    web.routes["/s"] = lambda q: html(baidu_page(second, 20) if q.get("pn") == "10" else baidu_page(first, 10))
    for n, when in (("1", AN_HOUR_AGO), ("2", TWO_HOURS_AGO), ("3", AN_HOUR_AGO), ("old", THREE_DAYS_AGO)):
        web.routes[f"/news/{n}.html"] = lambda q, n=n, when=when: html(article(f"北辰乙醇新闻{n}", when, "居民反映夜间异味严重。" * 5))
    cfg = config(tmp_path, "baidu_news", f"{site}/s?tn=news&rtt=4&word={{keyword}}", "max_pages = 2")
    started = datetime.now(SHANGHAI)  # "2小时前" is two hours before the crawl, not before this module was read
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_url = {item["url"].rsplit("/", 1)[-1]: item for item in items}
    assert sorted(by_url) == ["1.html", "2.html", "3.html", "gone.html"]  # not the three-day-old one
    assert by_url["1.html"]["title"] == "北辰乙醇新闻1" and "居民反映夜间异味严重" in by_url["1.html"]["content"]
    assert by_url["1.html"]["published_at"] == AN_HOUR_AGO.isoformat() and by_url["1.html"]["author"] == "王芳"
    # An article that cannot be fetched keeps what the results page showed.
    gone = by_url["gone.html"]
    assert gone["title"] == "北辰乙醇被约谈" and gone["content"] == "环保部门约谈企业负责人"
    assert abs(datetime.fromisoformat(gone["published_at"]) - (started - timedelta(hours=2))) < timedelta(minutes=1)
    assert "gone.html" in done.stderr and "keeping what the results page showed" in done.stderr
    assert web.asked("/s")[0].query["word"] == "北辰乙醇"

    ingested(tmp_path)
    web.seen.clear()
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert items == [] and [s.query.get("pn") for s in web.asked("/s")] == [None]  # page 1 only, nothing fetched


# ---- Tieba ----

def tieba_thread(tid: int, title: str, author: str, created: str, replies: int) -> str:
    return f"""<li class=" j_thread_list clearfix" data-field='{{"id":{tid},"author_name":"{author}","reply_num":{replies},"is_top":null}}' data-tid="{tid}">
<div class="t_con cleafix"><div class="col2_left j_threadlist_li_left"><span class="threadlist_rep_num center_text" title="回复">{replies}</span></div>
<div class="col2_right j_threadlist_li_right "><div class="threadlist_lz clearfix"><div class="threadlist_title pull_left j_th_tit ">
<a rel="noreferrer" href="/p/{tid}" title="{title}" target="_blank" class="j_th_tit ">{title}</a></div>
<div class="threadlist_author pull_right"><span class="tb_icon_author " title="主题作者: {author}"><a class="frs-author-name j_user_card">{author[:4]}...</a></span>
<span class="pull-right is_show_create_time" title="创建时间">{created}</span></div></div>
<div class="threadlist_detail clearfix"><div class="threadlist_text pull_left"><div class="threadlist_abs threadlist_abs_onlyline ">{title}的摘要</div></div></div></div></div></li>"""


def tieba_list(threads: str) -> str:
    # As Tieba sends it: the thread list inside an HTML comment in a <code> block.
    return f"""<html><head><meta charset="UTF-8"><title>北辰乙醇吧-百度贴吧</title></head><body><div id="content">
<div id="pagelet_frs-list/pagelet/thread_list"></div>
<code class="pagelet_html" id="pagelet_html_frs-list/pagelet/thread_list" style="display:none;"><!--
<ul id="thread_list" class="threadlist_bright j_threadlist_bright">{threads}</ul>
<div class="thread_list_bottom clearfix"><div id="frs_list_pager" class="pagination-default clearfix">
<span class="pagination-current pagination-item ">1</span><a href="/f?kw=x&amp;ie=utf-8&amp;pn=50" class="next pagination-item ">下一页&gt;</a></div></div>
--></code></div></body></html>"""


def tieba_post(tid: int, title: str, author: str, when: datetime, text: str) -> str:
    return f"""<html><head><meta charset="UTF-8"><title>{title}_北辰乙醇吧_百度贴吧</title></head><body>
<div class="core_title_wrap_bright clearfix"><h3 class="core_title_txt pull-left text-overflow" title="{title}">{title}</h3></div>
<div class="l_post l_post_bright j_l_post clearfix" data-field='{{"author":{{"user_id":88{tid},"user_name":"{author}"}},"content":{{"post_id":1{tid},"post_no":1}}}}'>
<div class="d_author"><ul class="p_author"><li class="d_name"><a class="p_author_name j_user_card">{author}</a></li></ul></div>
<div class="d_post_content_main"><div class="p_content"><cc><div id="post_content_1{tid}" class="d_post_content j_d_post_content" style="display:;">
{text}<br>大家怎么看？</div></cc></div>
<div class="core_reply j_lzl_wrapper"><div class="post-tail-wrap"><span class="tail-info">来自Android客户端</span>
<span class="tail-info">1楼</span><span class="tail-info">{when:%Y-%m-%d %H:%M}</span></div></div></div></div>
<div class="l_post l_post_bright j_l_post clearfix" data-field='{{"author":{{"user_name":"回帖人"}}}}'><div class="d_post_content j_d_post_content">二楼回复</div></div>
</body></html>"""


def test_tieba_thread_list_hidden_in_comments_then_thread_pages(tmp_path: Path, web: FakeWeb) -> None:
    threads = [(7001, "北辰乙醇厂附近晚上有怪味", "河西业主小王", AN_HOUR_AGO, 12),
               (7002, "有人知道北辰乙醇在招工吗", "求职的老李", TWO_HOURS_AGO, 3),
               (7003, "北辰乙醇三年前的老帖", "路人甲乙丙", THREE_DAYS_AGO, 99)]
    rows = "".join(tieba_thread(t, title, a, f"{when:%H:%M}" if when.date() == NOW.date() else f"{when:%m-%d}", r)
                   for t, title, a, when, r in threads)
    web.routes["/f"] = lambda q: html(tieba_list(rows))
    for tid, title, author, when, _ in threads:
        web.routes[f"/p/{tid}"] = lambda q, a=(tid, title, author, when): html(tieba_post(*a, f"{a[1]}，正文在这里。"))
    # Two days' reach: just after midnight the list shows an hour-old thread by yesterday's date alone.
    cfg = config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}&ie=utf-8", 'lookback = "2d"')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    by_id = {item["native_id"]: item for item in items}
    assert sorted(by_id) == ["7001", "7002"]  # the three-day-old thread is older than the window
    post = by_id["7001"]
    assert post["url"] == f"{web.url}/p/7001" and post["title"] == "北辰乙醇厂附近晚上有怪味"
    assert post["content"] == "北辰乙醇厂附近晚上有怪味，正文在这里。大家怎么看？"
    assert post["author"] == "河西业主小王" and post["author_id"] == "887001"
    assert post["published_at"] == AN_HOUR_AGO.isoformat() and post["metrics"] == {"comments": 12}
    assert web.asked("/f")[0].query["kw"] == "北辰乙醇"


def test_tieba_real_list_page(tmp_path: Path, web: FakeWeb) -> None:
    page = real_page("test_list_page_tieba_1.html")
    web.routes["/f"] = lambda q: html(page)
    # Thread pages without a post (a thread deleted since): each thread keeps what the list showed.
    for tid in re.findall(r'data-tid="(\d+)"', page):
        web.routes[f"/p/{tid}"] = lambda q: html("<html><body><p>该贴已被删除</p></body></html>")
    cfg = config(tmp_path, "tieba", f"{web.url}/f?kw={{keyword}}", 'max_pages = 1\nlookback = "20000d"')
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert len(items) == len({i["native_id"] for i in items}) == 50
    by_id = {item["native_id"]: item for item in items}
    thread = by_id["6855874703"]
    assert thread["title"] == "女大学生找不着北被网约车司机骂：全地球的人都知道，可能只有火星人不知道"
    assert thread["author"] == "娱乐圈吧智囊团" and thread["metrics"] == {"comments": 73}
    assert datetime.fromisoformat(thread["published_at"]).strftime("%H:%M") == "11:51"
    assert by_id["6855574054"]["content"].startswith("8月1日，青海省格尔木公安局通报称")
    assert not [s for s in web.seen if s.host]  # the next page lives on the real site: not followed past max_pages


# ---- WeChat through Sogou ----

def sogou_result(n: int, href: str, title: str, account: str, when: datetime) -> str:
    stamp = int(when.timestamp())
    return f"""<li id="sogou_vr_11002601_box_{n}" d="ab735a258a90e8e1-6bee54fcbd896b2a-{n:016x}">
<div class="img-box"><a data-z="art" target="_blank" href="{href}"><img src="//img01.sogoucdn.com/x.jpg"></a></div>
<div class="txt-box"><h3><a target="_blank" href="{href}" id="sogou_vr_11002601_title_{n}" uigs="article_title_{n}">{title}</a></h3>
<p class="txt-info" id="sogou_vr_11002601_summary_{n}">{title}的摘要，<em>北辰乙醇</em>相关。</p>
<div class="s-p" t="{stamp}"><a class="account" target="_blank" id="sogou_vr_11002601_account_{n}" href="/link?type=2">{account}</a>
<span class="s2"><script>document.write(timeConvert('{stamp}'))</script></span></div></div></li>"""


def sogou_page(results: str) -> str:
    return f"""<html><head><meta charset="utf-8"><title>北辰乙醇的相关微信公众号文章 – 搜狗微信搜索</title></head><body>
<div class="news-box"><ul class="news-list">{results}</ul></div>
<div class="p-fy" id="pagebar_container"><span>1</span><a id="sogou_page_2" href="?query=x&amp;type=2&amp;page=2&amp;ie=utf8">2</a>
<a id="sogou_next" href="?query=x&amp;type=2&amp;page=2&amp;ie=utf8" class="np">下一页</a></div></body></html>"""


def sogou_redirect(target: str) -> str:
    pieces = [target[i:i + 10] for i in range(0, len(target), 10)]
    pieces[1] = pieces[1][:3] + "@" + pieces[1][3:]
    lines = "\n".join(f"url += '{p}';" for p in pieces)
    return f"""<meta content="always" name="referrer"><script>
var url = '';
{lines}
url.replace("@", "");
window.location.replace(url)
</script>"""


def wechat_article(title: str, account: str, when: datetime, body: str) -> str:
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}"></head><body id="activity-detail" class="zh_CN">
<div class="rich_media_area_primary"><h1 class="rich_media_title" id="activity-name">
                {title}
</h1><div id="meta_content" class="rich_media_meta_list"><span class="rich_media_meta rich_media_meta_nickname" id="profileBt">
<a href="javascript:void(0);" id="js_name">
                        {account}                      </a></span><em id="publish_time" class="rich_media_meta rich_media_meta_text"></em></div>
<div class="rich_media_content" id="js_content" style="visibility: hidden;"><section><p><span>{body}</span></p><p>欢迎留言。</p></section></div></div>
<script>var biz = ""||"MzA4MDEwNzE{len(title)}"; var sn = "" || ""|| "abc"; var mid = "" || ""|| "2651{int(when.timestamp()) % 100000}";
var idx = "" || "" || "1"; var nickname = "{account}"; var user_name = "gh_0123456789ab";
var ct = "{int(when.timestamp())}";</script></body></html>"""


def test_wechat_through_sogou_results_and_its_redirect(tmp_path: Path, web: FakeWeb) -> None:
    site = web.url
    results = "".join([
        sogou_result(0, "/link?url=dn9a_one&type=2&query=x", "北辰乙醇回应异味", "白桦发布", AN_HOUR_AGO),
        sogou_result(1, "/link?url=dn9a_two&type=2&query=x", "北辰乙醇的一天", "乙醇人", TWO_HOURS_AGO),
        sogou_result(2, "/link?url=dn9a_old&type=2&query=x", "北辰乙醇旧文", "乙醇人", THREE_DAYS_AGO),
    ])
    web.routes["/weixin"] = lambda q: html(sogou_page(results))
    web.routes["/link"] = lambda q: html(sogou_redirect(f"{site}/s/{q['url'].removeprefix('dn9a_')}"))
    web.routes["/s/one"] = lambda q: html(wechat_article("北辰乙醇回应异味", "白桦发布", AN_HOUR_AGO, "公司已委托第三方检测。"))
    # /s/two is gone: the result keeps what Sogou showed.
    cfg = config(tmp_path, "wechat", f"{site}/weixin?type=2&query={{keyword}}", "max_pages = 1")
    done, items = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert sorted(i["title"] for i in items) == ["北辰乙醇回应异味", "北辰乙醇的一天"]
    one = next(i for i in items if i["url"].endswith("/s/one"))
    assert one["author"] == "白桦发布" and one["author_id"] == "gh_0123456789ab"
    assert one["content"] == "公司已委托第三方检测。欢迎留言。" and one["published_at"] == AN_HOUR_AGO.isoformat()
    assert one["native_id"].startswith("MzA4MDEwNzE") and one["native_id"].endswith(":1")
    two = next(i for i in items if i["title"] == "北辰乙醇的一天")
    assert two["author"] == "乙醇人" and two["content"] == "北辰乙醇的一天的摘要，北辰乙醇相关。"
    assert two["published_at"] == TWO_HOURS_AGO.isoformat()
    assert web.asked("/weixin")[0].query == {"type": "2", "query": "北辰乙醇"}


def test_wechat_real_article_page(tmp_path: Path, web: FakeWeb) -> None:
    page = real_page("tests_wechat_1.html")
    when = datetime(2020, 2, 12, 22, 17, 54, tzinfo=SHANGHAI)
    web.routes["/weixin"] = lambda q: html(sogou_page(sogou_result(0, "/s/real", "三星S20", "爱否科技", when)))
    web.routes["/s/real"] = lambda q: html(page)
    cfg = config(tmp_path, "wechat", f"{web.url}/weixin?type=2&query={{keyword}}", 'max_pages = 1\nlookback = "20000d"')
    done, [item] = crawl(tmp_path, cfg, "src")
    assert done.returncode == 0, done.stderr
    assert item["title"] == "三星 Galaxy S20 系列手机正式发布" and item["author"] == "爱否科技"
    assert item["published_at"] == "2020-02-12T22:17:54+08:00"  # from `var ct`; the page shows only 昨天
    assert item["content"].startswith("今天凌晨，三星在美国旧金山举行发布会") and len(item["content"]) > 1000
    assert item["native_id"] == "MjM5NzE1NTMyNg==:2650934104:1" and item["author_id"] == "gh_3fb3f07c5c4a"
