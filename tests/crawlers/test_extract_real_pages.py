"""The generic extractor on real saved pages of Chinese news sites (../shared/fixtures/pages/news).

Expected values were written down by reading each page: the headline; the publication time shown under
it (or in its meta data where the page shows none); the author (记者/编辑/责任编辑, as the page names
one) and the source (来源) where the page shows them; a phrase of the article the body must hold, and
one of the page's furniture (navigation, related links, comments, copyright lines) it must not.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from crawlers.extract import extract_article
from crawlers.middlewares import decoded
from models import SHANGHAI

PAGES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "pages" / "news"


class Page(NamedTuple):
    title: str
    published: datetime | None
    author: str | None  # None: the page names nobody we could check
    source: str | None
    has: str
    has_not: str


ARTICLES = {
    "gerapy_samples_detail_china_news1.html": Page(
        "【中国稳健前行】坚定实施扩大内需战略", datetime(2020, 7, 4, 12, 10, 24), "陈海峰", "求是网",
        "坚定实施扩大内需战略，既是满足人民", "slotbydup"),
    "tests_163_1.html": Page("多地项目连环爆雷 狂奔的龙湖集团", datetime(2019, 9, 7, 13, 43, 45), "杨倩_NF4425",
                             "证券市场红周刊", "对一家上市公司来说，没有故事就是好故事", "\n- 娱乐"),
    "tests_163_2.html": Page("姚明对周琦说了啥？周琦上下半场判若两人", datetime(2019, 9, 7, 9, 59, 22), "杜硕_NB12556",
                             "新京报", "中国男篮以77比73战胜韩国队", "国庆70周年庆祝活动"),
    "tests_baijiahao_1.html": Page("英国美女在殡仪馆工作太痛苦，转行当美人鱼！每小时收入近千元",
                                   datetime(2019, 10, 8, 12, 0, 57), None, None, "茉莉·西尔斯", "百度首页"),
    "tests_guancha_guancha.html": Page("王文：中美贸易“持久战”，中国人的斗志被激发", datetime(2019, 9, 7, 9, 25, 9),
                                       None, "观察者网", "海新科技董事长杨敬辉", "最新闻 Hot"),
    "tests_ifeng_1.html": Page("女童眼睛被塞几十片纸，“无法用科学解释”", datetime(2019, 11, 25, 16, 4, 30), None,
                               "澎湃新闻网", "禹州市教体局曾通报称", "凤凰网"),
    "tests_people_1.html": Page("女儿出嫁，郑板桥画了几笔兰花当嫁妆", datetime(2019, 6, 15, 8, 18), None,
                                "人民网-文化频道", "今年的6月16日是父亲节", "Copyright"),
    "tests_qq_qq.html": Page("儿歌一分钱被改成一元钱 原作者女儿：改成这样不觉得拗口吗？", datetime(2019, 9, 7, 21, 30, 50),
                             None, None, "潘振声女儿马莉表示", "用微信扫描二维码"),
    "tests_sina_1.html": Page("中国人习以为常的地方 为何老外却说“了不得”？", datetime(2019, 11, 25, 18, 57, 38), "张迪",
                              None, "说这话的大叔Gweilo是个加拿大人", "违法和不良信息举报"),
    "tests_sina_2.html": Page('60万"12306账号"外泄? 中铁总辟谣称消息不实', datetime(2018, 12, 28, 19, 55, 10), "霍琦",
                              None, "铁路12306网站未发生用户信息泄漏", "APP专享"),
    "tests_thepaper_1.html": Page("共享充电宝涨价告别1元时代：是“收割韭菜”还是回归理性", datetime(2019, 9, 24, 9, 10),
                                  "张珺", None, "这完全是‘收割韭菜’行为", "评论（191）"),
    "tests_thepaper_2.html": Page("定了！广州南沙邮轮母港即将开通！地铁直达+无敌免...", datetime(2019, 8, 13, 14, 7), None,
                                  "澎湃新闻·澎湃号·政务", "广州南沙国际邮轮母港", "字号"),
    "tests_toutiao_toutiao.html": Page("英国独立游戏，经典游戏规则与RPG成长冒险元素结合体验", datetime(2019, 9, 4, 22, 18, 34),
                                       None, None, "FreeCell Quest是一款以经典纸牌游戏", "头条号"),
    # The saved page shows only 昨天 (yesterday) for its time: there is no date to find.
    "tests_wechat_1.html": Page("三星 Galaxy S20 系列手机正式发布", None, None, "微信公众平台",
                                "正式发布旗下新一代旗舰手机 Galaxy S20 系列机型", "功能介绍"),
    "tests_xinhuanet_1.html": Page("法国全国大罢工再次严重影响交通", datetime(2019, 12, 10, 7, 57, 40), None, "新华网",
                                   "首都巴黎交通几乎完全瘫痪", "热帖"),
}
# List pages are not articles: the extractor must still name them and not fail.
LISTS = {
    "gerapy_samples_list_tencent_important_news.html": "新闻中心",
    "gerapy_samples_list_zhihu_search_result.html": "(3 条消息) 智能解析",
    "test_list_page_163_1.html": "网易新闻有态度",
    "test_list_page_netease_forum_1.html": "旗亭酒肆/梦起三清",
    "test_list_page_tieba_1.html": "最新的热议话题讨论吧",
}

needs_pages = pytest.mark.skipif(not PAGES.is_dir(), reason="../shared/fixtures/pages/news is absent (real saved pages)")


def _extract(name: str) -> dict:
    from scrapy.http import HtmlResponse

    page = decoded(HtmlResponse(url="http://example.com/", body=(PAGES / name).read_bytes()))
    return extract_article(page.text, page.url)


@needs_pages
def test_every_saved_page_is_in_a_table() -> None:
    assert sorted(p.name for p in PAGES.glob("*.html")) == sorted([*ARTICLES, *LISTS])


@needs_pages
@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_article(name: str) -> None:
    expected, article = ARTICLES[name], _extract(name)
    assert article["title"] == expected.title
    assert article["published_at"] == (expected.published.replace(tzinfo=SHANGHAI) if expected.published else None)
    if expected.author is not None:
        assert article["author"] == expected.author
    if expected.source is not None:
        assert article["source"] == expected.source
    assert expected.has in article["content"]
    assert expected.has_not not in article["content"]
    assert "function(" not in article["content"]


@needs_pages
@pytest.mark.parametrize("name", sorted(LISTS))
def test_list_page(name: str) -> None:
    assert _extract(name)["title"].startswith(LISTS[name])


def test_garbage_input_gives_empty_fields() -> None:
    assert extract_article("", "") == {"title": "", "published_at": None, "author": "", "source": "", "content": ""}
    broken = extract_article("<html><h1>北辰乙醇<p>半截", "http://x/")
    assert broken["title"] == "北辰乙醇"
