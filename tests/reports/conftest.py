"""A store and an alert record filled with known posts, events and alerts around Tuesday 2024-03-12 (Shanghai),
so a briefing's figures can be checked exactly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.state import AlertState, NewAlert
from analysis.grams import index_grams
from models import SHANGHAI, Author, Event, Metrics, Post, SchemeMatch, Sentiment
from store.base import Store
from store.elastic import ElasticStore
from store.embedded import EmbeddedStore
from tests.conftest import cluster_named, set_up

DAY = datetime(2024, 3, 12, tzinfo=SHANGHAI)  # the briefing's day; the day before is 03-11


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=SHANGHAI)


def post(n: int, when: datetime, sentiment: str, *, source: str = "news-a", platform: str = "news",
         tier: str = "local_media", keywords: tuple[str, ...] = (), followers: int = 0, reposts: int = 0,
         comments: int = 0, event: str | None = None, dup_of: str | None = None) -> Post:
    return Post(
        id=f"{platform}:{n}", platform=platform, source=source, source_tier=tier, url=f"http://127.0.0.1/p/{n}",
        title=f"北辰燃料乙醇 消息{n}", content=f"内容{n}", tokens=["北辰燃料乙醇", f"消息{n}"], keywords=list(keywords),
        author=Author(name=f"作者{n}", followers=followers), metrics=Metrics(reposts=reposts, comments=comments),
        sentiment=Sentiment(label=sentiment, score={"negative": 0.1, "neutral": 0.5, "positive": 0.9}[sentiment]),  # type: ignore[arg-type]
        schemes=[SchemeMatch(name="beichen")], published_at=when, crawled_at=when + timedelta(minutes=3),
        event_id=event, dup_of=dup_of,
    )


POSTS = [
    # The day: 5 posts, 3 negative (one a duplicate), over news, forum and weibo.
    post(1, at(12, 9, 10), "negative", keywords=("恶臭", "厂区"), followers=100, reposts=5, event="evt:1"),
    post(2, at(12, 9, 40), "negative", source="forum-b", platform="forum", tier="individual", keywords=("恶臭",),
         followers=3000, comments=10, event="evt:1"),
    post(3, at(12, 10, 5), "negative", source="weibo-c", platform="weibo", tier="self_media", followers=99999,
         event="evt:1", dup_of="forum:2"),
    post(4, at(12, 14), "positive", tier="central", keywords=("验收",), event="evt:3"),
    post(5, at(12, 23, 59, 59), "neutral"),  # the day's last second
    post(6, at(13, 0), "negative"),  # the next day's first: in neither
    # The day before: 2 posts, 1 negative.
    post(7, at(11, 12), "neutral", keywords=("厂区",), event="evt:2"),
    post(8, at(11, 0), "negative", keywords=("恶臭",)),
]


def event(n: int, first: datetime, last: datetime, risk: float, responses: tuple[str, ...] = ()) -> Event:
    return Event(id=f"evt:{n}", title=f"事件{n}", keywords=["恶臭"], schemes=["beichen"], first_post=f"news:{n}",
                 first_poster=f"作者{n}", first_seen=first, last_seen=last, posts=1, risk=risk, updated_at=last,
                 responses=list(responses))


EVENTS = [event(1, at(12, 9, 10), at(12, 10, 5), 0.8, ("weibo:3",)), event(2, at(10, 8), at(11, 12), 0.5),
          event(3, at(12, 14), at(12, 14), 0.2)]


def _alert(state: AlertState, n: int, created: datetime, event_id: str | None = None) -> int:
    alert_id = state.open_alert(NewAlert(key=f"post:beichen:{n}", rule="negative-post", scheme="beichen",
                                         severity="high", title=f"预警{n}", summary="", url="", payload={},
                                         event_id=event_id), None, created)
    assert alert_id is not None
    return alert_id


def fill_alerts(state: AlertState) -> None:
    a1 = _alert(state, 1, at(12, 9, 15), "evt:1")  # acknowledged in 20 minutes, resolved in 2 hours
    state.act(a1, "ack", "张三", at(12, 9, 35))
    state.act(a1, "resolve", "张三", at(12, 11, 15))
    a2 = _alert(state, 2, at(12, 15))  # acknowledged in 10 minutes, reopened, acknowledged again: the first counts
    state.act(a2, "ack", "李四", at(12, 15, 10))
    state.act(a2, "resolve", "李四", at(12, 15, 50))
    state.act(a2, "reopen", "李四", at(12, 16))
    state.act(a2, "ack", "李四", at(12, 16, 30))
    a3 = _alert(state, 3, at(11, 20))  # raised the day before, resolved this day after 12 hours
    state.act(a3, "ack", "王五", at(11, 20, 30))
    state.act(a3, "resolve", "王五", at(12, 8))
    _alert(state, 4, at(11, 10))  # raised the day before, never touched


def _fill(store: Store, folder: Path) -> tuple[Store, AlertState]:
    store.upsert(POSTS)
    store.upsert_events(EVENTS)
    state = AlertState.for_data_dir(folder)
    fill_alerts(state)
    return store, state


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[tuple[Store, AlertState]]:
    """The embedded store, where the command line and the service find it ([store] path = "var")."""
    store, state = _fill(EmbeddedStore(tmp_path / "var", grams=index_grams), tmp_path / "var")
    try:
        yield store, state
    finally:
        store.close()
        state.close()


@pytest.fixture(params=("embedded", "osmem"))
def filled_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, AlertState]]:
    """Each backend a briefing may read: the figures must come out the same."""
    if request.param == "embedded":
        store: Store = EmbeddedStore(tmp_path / "var", grams=index_grams)
    else:
        cluster = cluster_named(request, request.param)
        section = set_up(cluster, request)
        store = ElasticStore(section, grams=index_grams, client=cluster.connect(section))
    store, state = _fill(store, tmp_path / "var")
    try:
        yield store, state
    finally:
        store.close()
        state.close()
