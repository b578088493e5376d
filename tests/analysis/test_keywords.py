"""Keywords are what a post is about: words, not figures, quantities, dates relative to the day it was written, or
pieces jieba glued across a word boundary; and the watch terms in jieba's dictionary do not cut their neighbours."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from analysis.pipeline import Analyzer
from analysis.tokens import Tokenizer
from models import Post
from tests.analysis.test_events import TOPICS, analysed_story, demo_items, demo_settings


def _post(content: str, title: str = "") -> Post:
    return Post(id="news:1", platform="news", source="baihua-news", url="http://127.0.0.1/k/1.html", title=title,
                content=content)


def test_figures_quantities_and_relative_dates_are_no_keywords(analyzer: Analyzer) -> None:
    post = analyzer.analyse(_post(
        title="北辰燃料乙醇二期项目今年投产",
        content="北辰燃料乙醇二期项目设计产能三十万吨，今年投产，2024年环评批复，首批十几名工人上岗，"
                "厂区异味投诉上月增加35%，近日居民再次反映恶臭。"))
    for noise in ("二期", "三十万吨", "今年", "2024", "十几", "35%", "上月", "近日", "首批"):
        assert noise not in post.keywords, (noise, post.keywords)
    assert {"投产", "恶臭", "环评"} <= set(post.keywords), post.keywords
    # A figure with any measure word after it (家, 名, 公里), 余 or 多 between.
    post = analyzer.analyse(_post("十余家企业、六十余名市民参观了北辰燃料乙醇的车间，全程三公里。"))
    for noise in ("十余家", "十馀家", "六十余名", "六十馀名", "三公里"):
        assert noise not in post.keywords, (noise, post.keywords)
    assert {"企业", "市民", "车间"} <= set(post.keywords), post.keywords
    # The times of day a resident writes in (the demo's story: 今晚 又是一股臭味) say when, not what.
    post = analyzer.analyse(_post("今晚厂区又飘来恶臭，昨天下午和今天凌晨也有，目前环保部门刚刚介入。"))
    for noise in ("今晚", "昨天下午", "今天", "凌晨", "目前", "刚刚"):
        assert noise not in post.keywords, (noise, post.keywords)
    assert {"恶臭", "厂区", "介入"} <= set(post.keywords), post.keywords


def test_watch_terms_do_not_cut_their_neighbours() -> None:
    plain, watched = Tokenizer(), Tokenizer(["北辰燃料乙醇", "北辰"])
    # Added at a huge frequency, 北辰 won against every word around it: 台/北辰/光, 北辰/区.
    for text in ("台北辰光大道堵车", "北辰区的居民反映异味", "没有人管"):
        assert watched.cut(text) == plain.cut(text), text
    # The terms are still one token each, alone and among other words, so search and the schemes find them.
    assert watched.cut("北辰燃料乙醇") == ["北辰燃料乙醇"] and watched.cut("北辰") == ["北辰"]
    assert watched.cut("北辰燃料乙醇公司附近没有人管")[:2] == ["北辰燃料乙醇", "公司"]


def test_pieces_glued_across_a_word_boundary_are_no_keywords(analyzer: Analyzer) -> None:
    # 没有/人/管: jieba's HMM joins 人管, which took 人 from 有人.
    assert "人管" not in analyzer.analyse(_post("北辰燃料乙醇公司附近没有人管")).keywords
    story = analysed_story(Analyzer.from_settings(demo_settings()), demo_items())
    assert "人管" in story["t3"].tokens and "人管" not in story["t3"].keywords, story["t3"].keywords
    assert {"恶臭", "厂区"} <= set(story["t3"].keywords)
    # A name jieba's dictionary lacks is still a keyword.
    assert "赵薇" in analyzer.analyse(_post("演员赵薇回应北辰燃料乙醇代言风波")).keywords


def test_real_weibo_keywords_are_words() -> None:
    """The 600 Weibo posts of the labelled topic set (beside the project; YUQING_TOPICS names another copy)."""
    data = Path(os.environ.get("YUQING_TOPICS", TOPICS))
    if not data.exists():
        pytest.skip(f"no labelled topic set at {data}")
    analyzer = Analyzer()
    found: Counter[str] = Counter()
    for n, line in enumerate(data.read_text(encoding="utf-8").splitlines()):
        found.update(analyzer.analyse(_post(json.loads(line)["text"]).model_copy(update={"id": f"weibo:{n}"})).keywords)
    # Pieces of two words that were keywords of these posts ...
    assert not found.keys() & {"我要", "发了", "有个", "不进", "太能", "信中", "屏下", "没票", "一波", "不爱", "我济"}
    # ... while the names and new words of the same posts stay.
    assert {"特金会", "昆凌", "川普", "美朝", "联发科"} <= found.keys()
