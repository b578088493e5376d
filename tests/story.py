"""The demo's story as a store holds it: the timeline's posts, analysed for real, published over two hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import settings as config
from analysis.pipeline import Analyzer
from models import Event, Post
from yuqing.demo.timeline import COMPANY, TIMELINE

SOURCES = {"news": ("baihua-news", "local_media"), "forum": ("baihua-forum", "individual")}


def story_settings(**alerts: object) -> config.Settings:
    return config.Settings(
        schemes=[{"name": "beichen", "keywords": [COMPANY, "北辰乙醇"], "exclude": ["招聘"]}],
        official={"bodies": ["白桦市生态环境局"]},
        alerts={"recipients": ["oncall@example.com"], "rules": [
            {"name": "sensitive-terms", "type": "keyword", "scheme": "beichen",
             "terms": ["恶臭", "偷排", "爆炸", "泄漏", "死鱼"], "severity": "high"},
            {"name": "negative-post", "type": "negative", "scheme": "beichen", "threshold": 0.3, "severity": "medium"},
        ], **alerts},
    )


def story(start: datetime, settings: config.Settings | None = None) -> tuple[list[Post], list[Event]]:
    """The timeline's posts, one demo second a minute from `start`, analysed in order as ingest does, and
    their events."""
    posts = []
    for item in TIMELINE:
        source, tier = SOURCES[item.kind]
        posts.append(Post(
            id=f"{item.kind}:{item.slug}", platform=item.kind, source=source, source_tier=tier,
            url=f"http://127.0.0.1:8001/{item.kind}/{item.slug}.html", title=item.title, content=item.body,
            author={"name": item.author}, metrics={"comments": item.replies},
            published_at=start + timedelta(minutes=item.at), crawled_at=start + timedelta(minutes=item.at + 1)))
    analyzer = Analyzer.from_settings(settings or story_settings())
    return analyzer.analyse_many(posts), analyzer.take_changed_events()
