"""The generic extractor on real saved pages of Chinese news sites (../shared/fixtures/pages/news).

Expected values were written down by reading each page: the headline, and the publication time shown
under it (or in its meta data where the page shows none).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from crawlers.extract import extract_article
from yuqing.models import SHANGHAI

PAGES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "pages" / "news"

EXPECTED = {
    "tests_163_1.html": ("多地项目连环爆雷 狂奔的龙湖集团", datetime(2019, 9, 7, 13, 43, 45)),
    "tests_163_2.html": ("姚明对周琦说了啥？周琦上下半场判若两人", datetime(2019, 9, 7, 9, 59, 22)),
    "tests_guancha_guancha.html": ("王文：中美贸易“持久战”，中国人的斗志被激发", datetime(2019, 9, 7, 9, 25, 9)),
    "tests_ifeng_1.html": ("女童眼睛被塞几十片纸，“无法用科学解释”", datetime(2019, 11, 25, 16, 4, 30)),
    "tests_people_1.html": ("女儿出嫁，郑板桥画了几笔兰花当嫁妆", datetime(2019, 6, 15, 8, 18)),
    "tests_sina_1.html": ("中国人习以为常的地方 为何老外却说“了不得”？", datetime(2019, 11, 25, 18, 57, 38)),
    "tests_sina_2.html": ('60万"12306账号"外泄? 中铁总辟谣称消息不实', datetime(2018, 12, 28, 19, 55, 10)),
    "tests_thepaper_1.html": ("共享充电宝涨价告别1元时代：是“收割韭菜”还是回归理性", datetime(2019, 9, 24, 9, 10)),
    "tests_toutiao_toutiao.html": ("英国独立游戏，经典游戏规则与RPG成长冒险元素结合体验", datetime(2019, 9, 4, 22, 18, 34)),
    "tests_xinhuanet_1.html": ("法国全国大罢工再次严重影响交通", datetime(2019, 12, 10, 7, 57, 40)),
    "tests_qq_qq.html": ("儿歌一分钱被改成一元钱 原作者女儿：改成这样不觉得拗口吗？", datetime(2019, 9, 7, 21, 30, 50)),
}

needs_pages = pytest.mark.skipif(not PAGES.is_dir(), reason="../shared/fixtures/pages/news is absent (real saved pages)")


@needs_pages
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_title_time_and_body(name: str) -> None:
    title, published = EXPECTED[name]
    article = extract_article((PAGES / name).read_bytes().decode("utf-8", errors="replace"), "http://example.com/")
    assert article["title"].startswith(title)
    assert article["published_at"] == published.replace(tzinfo=SHANGHAI)
    assert len(article["content"]) > 300 and "function(" not in article["content"]


@needs_pages
def test_source_and_author_lines() -> None:
    sina = extract_article((PAGES / "tests_sina_1.html").read_text(encoding="utf-8", errors="replace"))
    assert sina["author"] == "张迪"
    people = extract_article((PAGES / "tests_people_1.html").read_text(encoding="utf-8", errors="replace"))
    assert people["source"] == "人民网-文化频道"


def test_garbage_input_gives_empty_fields() -> None:
    assert extract_article("", "") == {"title": "", "published_at": None, "author": "", "source": "", "content": ""}
    broken = extract_article("<html><h1>北辰乙醇<p>半截", "http://x/")
    assert broken["title"] == "北辰乙醇"
