"""Keywords are what a post is about: no figures, quantities or dates relative to the day it was written."""

from __future__ import annotations

from analysis.pipeline import Analyzer
from models import Post


def test_figures_quantities_and_relative_dates_are_no_keywords(analyzer: Analyzer) -> None:
    post = analyzer.analyse(Post(
        id="news:1", platform="news", source="baihua-news", url="http://127.0.0.1/k/1.html",
        title="北辰燃料乙醇二期项目今年投产",
        content="北辰燃料乙醇二期项目设计产能三十万吨，今年投产，2024年环评批复，首批十几名工人上岗，"
                "厂区异味投诉上月增加35%，近日居民再次反映恶臭。"))
    for noise in ("二期", "三十万吨", "今年", "2024", "十几", "35%", "上月", "近日", "首批"):
        assert noise not in post.keywords, (noise, post.keywords)
    assert {"投产", "恶臭", "环评"} <= set(post.keywords), post.keywords
