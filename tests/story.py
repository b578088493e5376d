"""The demo's story as a store holds it: the timeline's posts, analysed for real, published over two hours."""

from __future__ import annotations

from datetime import datetime

import settings as config
from analysis.pipeline import Analyzer
from models import Event, Post
from yuqing.demo.timeline import COMPANY, story_items


def story_settings(**alerts: object) -> config.Settings:
    return config.Settings(
        schemes=[{"name": "beichen", "keywords": [COMPANY, "北辰乙醇"], "exclude": ["招聘"]}],
        official={"bodies": ["白桦市生态环境局"]},
        alerts={"recipients": ["oncall@example.com"], "rules": [
            {"name": "sensitive-terms", "type": "keyword", "scheme": "beichen",
             "terms": ["恶臭", "偷排", "爆炸", "泄漏", "死鱼"], "severity": "high"},
            {"name": "negative-post", "type": "negative", "scheme": "beichen", "severity": "medium"},
        ], **alerts},
    )


def story(start: datetime, settings: config.Settings | None = None) -> tuple[list[Post], list[Event]]:
    """The timeline's posts, a minute a demo second from `start`, analysed in order as ingest does, and their
    events."""
    analyzer = Analyzer.from_settings(settings or story_settings())
    posts = analyzer.analyse_many([Post.from_item(item) for item in story_items(start, "http://127.0.0.1:8001")])
    return posts, analyzer.take_changed_events()
