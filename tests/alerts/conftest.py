from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.grams import index_grams
import settings as config
from alerts.engine import AlertEngine
from alerts.state import AlertState
from store.base import SearchQuery
from store.embedded import EmbeddedStore
from yuqing.demo.mailsink import MailSink
from models import Event, Post, SchemeMatch, Sentiment, now
from tests.ports import free_port


RULES = [
    {"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭", "爆炸"], "severity": "high", "title": "敏感词"},
    {"name": "neg", "type": "negative", "scheme": "co", "title": "负面舆情"},
]


def make_settings(smtp_port: int, rules: list[dict[str, Any]] | None = None, **alerts: object) -> config.Settings:
    return config.Settings(
        schemes=[{"name": "co", "keywords": ["北辰燃料乙醇"]}],
        alerts={"recipients": ["oncall@example.com"], "retry_base": 10, "retry_max": 60,
                "rules": RULES if rules is None else rules, "secret": "s" * 32,
                "dashboard_url": "http://yuqing.example.com/", **alerts},
        smtp={"host": "127.0.0.1", "port": smtp_port, "timeout": 3, "sender": "yuqing@example.org"},
    )


def make_post(n: int, title: str, content: str = "", score: float = 0.5, age: timedelta = timedelta(minutes=5),
              scheme: str | None = "co", at: datetime | None = None, event: str | None = None, **fields: Any) -> Post:
    """A post crawled `at` (default now), published `age` before."""
    at = at or now()
    label = "negative" if score < 0.35 else "positive" if score > 0.65 else "neutral"
    return Post.model_validate({
        "id": f"news:{n}", "platform": "news", "source": "baihua", "url": f"http://127.0.0.1/n/{n}.html",
        "title": title, "content": content, "tokens": title.split(), "published_at": at - age, "crawled_at": at,
        "sentiment": Sentiment(label=label, score=score),  # type: ignore[arg-type]
        "schemes": [SchemeMatch(name=scheme, terms=["北辰燃料乙醇"])] if scheme else [],
        "author": {"name": "河西小区业主"}, "source_tier": "individual", "event_id": event, **fields})


def make_event(event_id: str, posts: list[Post], scheme: str = "co", **fields: Any) -> Event:
    """The event of `posts` as analysis would store it."""
    first, last = min(posts, key=lambda p: p.time), max(posts, key=lambda p: p.time)
    return Event.model_validate({
        "id": event_id, "title": first.title, "schemes": [scheme], "first_post": first.id,
        "first_poster": first.author.name or first.source, "first_seen": first.time, "last_seen": last.time,
        "posts": len(posts), "by_platform": {"news": len(posts)}, "by_tier": {"individual": len(posts)},
        "responses": [p.id for p in posts if p.official], "updated_at": last.crawled_at,
        "risk": max((p.risk or 0.0) for p in posts), **fields})


def feed(store: EmbeddedStore, event_id: str, *posts: Post) -> list[Post]:
    """Store posts of one event, and the event as it stands with every post of it stored so far."""
    store.upsert(posts)
    found = store.search(SearchQuery(event_id=event_id, limit=1000)).posts
    store.upsert_events([make_event(event_id, found)])
    return list(posts)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mail(tmp_path: Path, smtp_port: int) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=smtp_port) as sink:
        yield sink


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "store", grams=index_grams)
    yield s
    s.close()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[AlertState]:
    s = AlertState.for_data_dir(tmp_path)
    yield s
    s.close()


@pytest.fixture
def engine(smtp_port: int, store: EmbeddedStore, state: AlertState) -> AlertEngine:
    return AlertEngine(make_settings(smtp_port), store, state)
