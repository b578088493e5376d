"""The overview's figures: trend buckets that fit the range, events first, breakdowns, the hour's pace, rising
keywords, and counts that agree with each other and with `yuqing search` for the same range."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from alerts.labels import PLATFORM_LABELS, SEVERITY_LABELS, STATE_LABELS, TIER_LABELS
from alerts.state import AlertState, NewAlert
from analysis.grams import index_grams
from dashboards.web.app import create_app
from dashboards.web.overview import RANGES, Overview
from store.base import EventQuery, SearchQuery
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, alerts, parse
from models import Author, Event, Metrics, Post, SchemeMatch, Sentiment, now

LABELS = {"severity": SEVERITY_LABELS, "state": STATE_LABELS, "tier": TIER_LABELS, "platform": PLATFORM_LABELS}
# (platform, source, tier, region, author, followers, sentiment, hours ago)
SPREAD = [
    ("weibo", "weibo", "individual", "北京", "吃瓜群众", 300, "negative", 0.5),
    ("weibo", "weibo", "self_media", "北京", "环保观察", 50_000, "negative", 1.5),
    ("weibo", "weibo", "individual", "香港", "香港網友", 10, "neutral", 2.5),
    ("forum", "baihua-forum", "individual", "", "河西小区业主", None, "negative", 3.5),
    ("news", "baihua-news", "local_media", "", "本报记者", None, "neutral", 5),
    ("news", "baihua-news", "local_media", "", "本报记者", None, "positive", 8),
    ("news", "xinhua", "central", "", "", None, "neutral", 20),
    ("news", "baihua-news", "local_media", "", "本报记者", None, "negative", 30),  # outside 24 h
    ("forum", "baihua-forum", "individual", "", "老住户", None, None, 26 * 24),  # outside 7 d, inside 30 d
]


def spread_post(n: int, platform: str, source: str, tier: str, region: str, author: str, followers: int | None,
                label: str | None, hours: float, keywords: tuple[str, ...] = ("恶臭",)) -> Post:
    return Post(id=f"{platform}:{n}", platform=platform, source=source, source_tier=tier, region=region,
                url=f"http://127.0.0.1/o/{n}.html", title=f"北辰燃料乙醇 厂区 第{n}条", content=f"第{n}条正文",
                author=Author(name=author, followers=followers), metrics=Metrics(reposts=n),
                sentiment=Sentiment(label=label, score=0.5) if label else None,  # type: ignore[arg-type]
                schemes=[SchemeMatch(name="co")], keywords=list(keywords), published_at=now() - timedelta(hours=hours))


def event(n: int, risk: float, quiet: timedelta, title: str) -> Event:
    last = now() - quiet
    first = last - timedelta(minutes=35)
    tens = {(last - timedelta(minutes=10 * k)).replace(minute=(last - timedelta(minutes=10 * k)).minute // 10 * 10,
                                                       second=0, microsecond=0).isoformat(): k + 1 for k in range(3)}
    return Event(id=f"evt:{n:016x}", title=title, schemes=["co"], first_post=f"weibo:{n}", first_poster="吃瓜群众",
                 first_seen=first, last_seen=last, posts=6, by_platform={"weibo": 4, "forum": 2},
                 by_sentiment={"negative": 5, "neutral": 1}, by_source={"weibo": 4, "baihua-forum": 2},
                 per_10min=tens, growth=3, risk=risk, updated_at=now())


@pytest.fixture
def spread(tmp_path: Path) -> Path:
    """A store with posts over platforms, tiers, regions and a month, and three events (one quiet for a day)."""
    with EmbeddedStore(tmp_path / "var" / "store", grams=index_grams) as store:
        store.upsert([spread_post(n, *row) for n, row in enumerate(SPREAD, 1)])
        store.upsert_events([event(1, 0.4, timedelta(minutes=5), "厂区恶臭"),
                             event(2, 0.9, timedelta(minutes=20), "河水发黑"),
                             event(3, 0.99, timedelta(days=1), "早已平息")])
    return tmp_path


def summary(folder: Path, key: str = "24h", **extra: Any) -> dict[str, Any]:
    with EmbeddedStore(folder / "var" / "store", readonly=True) as store:
        app = create_app(store, alerts, parse, allowed_hosts=HOSTS, labels=LABELS, **extra)
        response = TestClient(app, base_url="http://127.0.0.1").get(f"/api/summary?range={key}")
    assert response.status_code == 200, response.text
    return response.json()


def cli_total(folder: Path, *args: str) -> int:
    config = folder / "yuqing.toml"
    config.write_text(f'[store]\npath = "{(folder / "var" / "store").as_posix()}"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "search", "--config", str(config), "--format", "json",
                           *args], capture_output=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)["total"]


@pytest.mark.parametrize("key, interval, buckets", [("24h", "10min", 144), ("7d", "hour", 168), ("30d", "day", 30)])
def test_trend_buckets_fit_the_range(spread: Path, key: str, interval: str, buckets: int) -> None:
    data = summary(spread, key)
    assert data["interval"] == interval and len(data["volume"]) in (buckets, buckets + 1)
    starts = [datetime.fromisoformat(b["start"]) for b in data["volume"]]
    step = {"10min": timedelta(minutes=10), "hour": timedelta(hours=1), "day": timedelta(days=1)}[interval]
    assert all(b - a == step for a, b in zip(starts, starts[1:]))


def test_every_count_agrees_with_the_others_and_with_yuqing_search(spread: Path) -> None:
    for key, since, in_range in [("24h", "24h", 7), ("7d", "7d", 8), ("30d", "30d", 9)]:
        data = summary(spread, key)
        counts = data["counts"]
        assert counts["in_range"] == in_range == cli_total(spread, "--since", since)
        assert counts["negative"] == cli_total(spread, "--since", since, "--sentiment", "negative")
        assert counts["total"] == cli_total(spread) == len(SPREAD)
        assert sum(b["total"] for b in data["volume"]) == in_range
        assert sum(b["negative"] for b in data["volume"]) == counts["negative"]
        assert sum(b[label] for b in data["volume"] for label in ("positive", "neutral", "negative", "unknown")) \
            == in_range
        for field in ("platform", "tier", "source"):  # every post has one of each, and there are under 10 of each
            assert sum(b["count"] for b in data["breakdowns"][field]) == in_range, field
        with_region = sum(1 for row in SPREAD if row[3] and row[7] < {"24h": 24, "7d": 168, "30d": 720}[key])
        assert sum(b["count"] for b in data["breakdowns"]["region"]) == with_region
        assert len(data["negative_posts"]) == min(10, counts["negative"])
        assert sum(a["posts"] for a in data["authors"]) == sum(1 for row in SPREAD if row[4] and
                                                             row[7] < {"24h": 24, "7d": 168, "30d": 720}[key])


def test_breakdowns_and_authors_in_chinese(spread: Path) -> None:
    data = summary(spread)
    assert [(b["label"], b["count"]) for b in data["breakdowns"]["platform"]] == [
        ("新闻网站", 3), ("微博", 3), ("论坛", 1)]
    assert [b["label"] for b in data["breakdowns"]["tier"]] == ["个人", "地方媒体", "中央媒体", "自媒体"]
    assert data["breakdowns"]["region"] == [{"key": "北京", "label": "北京", "count": 2},
                                            {"key": "香港", "label": "香港", "count": 1}]
    assert [(a["name"], a["posts"], a["reach"]) for a in data["authors"]][:2] == [("环保观察", 1, 50_002),
                                                                                ("吃瓜群众", 1, 301)]


def test_events_first_riskiest_first_with_their_alert(spread: Path, tmp_path: Path) -> None:
    state = AlertState(f"sqlite:///{tmp_path / 'alerts.db'}")
    with EmbeddedStore(spread / "var" / "store", grams=index_grams) as store:  # two negative posts of the event
        posts = store.search(SearchQuery(sentiment="negative", limit=2)).posts
        store.upsert([p.model_copy(update={"event_id": "evt:0000000000000002"}) for p in posts])
    at = now()
    alert_id = state.open_alert(NewAlert(key="event:co:evt:0000000000000002", rule="event-growth", scheme="co",
                                         event_id="evt:0000000000000002", severity="high", title="河水发黑",
                                         summary="", url="", payload={}, post_ids=["weibo:2"]),
                                None, at)
    data = summary(spread, newest_alerts=state.of_events, alert_count=state.count_since)
    events = data["events"]
    assert [e["title"] for e in events] == ["河水发黑", "厂区恶臭"]  # the day-old one is no longer active
    assert events[0]["alert"]["id"] == alert_id and events[0]["alert"]["state_label"] == "待处理"
    assert events[0]["alert"]["severity_label"] == "高" and events[1]["alert"] is None
    assert events[0]["platforms"] == ["微博", "论坛"] and events[0]["first_poster"] == "吃瓜群众"
    # counted from the event's posts as they are labelled now (the stored event says 5 negative, 1 neutral)
    assert events[0]["sentiment"] == {"negative": 2, "neutral": 0, "positive": 0, "unknown": 0}
    assert events[0]["spark"][-5:] == [3, 2, 1, 0, 0]
    assert data["counts"]["alerts"] == 1
    state.close()


def test_negative_is_the_label_alone(tmp_path: Path) -> None:
    posts = [spread_post(n, "news", "baihua-news", "local_media", "", "", None, label, n)
             for n, label in enumerate(["negative", "negative", "neutral", "neutral"], 1)]
    posts[2] = posts[2].model_copy(update={"sentiment": Sentiment(label="neutral", score=0.08)})  # leans negative
    with EmbeddedStore(tmp_path / "var" / "store", grams=index_grams) as store:
        store.upsert(posts)
    data = summary(tmp_path)
    # One definition: no second count of posts that merely lean negative, as the negative rule no longer adds any.
    assert data["counts"]["negative"] == 2 and set(data["counts"]) == {"total", "in_range", "negative", "alerts"}
    assert sorted(p["id"] for p in data["negative_posts"]) == ["news:1", "news:2"]


def test_every_scheme_with_an_active_event_shows_its_riskiest(tmp_path: Path) -> None:
    loud = [event(n, 0.9 - n / 100, timedelta(minutes=n), f"甲{n}") for n in range(1, 13)]
    quiet = [event(n, 0.1 - n / 100, timedelta(minutes=n), f"乙{n}").model_copy(update={"schemes": ["other"]})
             for n in range(20, 22)]
    with EmbeddedStore(tmp_path / "var" / "store", grams=index_grams) as store:
        store.upsert([spread_post(1, *SPREAD[0])])
        store.upsert_events([*loud, *quiet])
    titles = [e["title"] for e in summary(tmp_path)["events"]]
    assert titles == [f"甲{n}" for n in range(1, 10)] + ["乙20"]  # riskiest first; the other scheme's riskiest kept


def test_more_than_ten_alerts_are_counted(spread: Path, tmp_path: Path) -> None:
    state = AlertState(f"sqlite:///{tmp_path / 'alerts.db'}")
    for n in range(12):
        state.open_alert(NewAlert(key=f"post:co:news:{n}", rule="negative", scheme="co", severity="medium",
                                  title=f"第{n}条", summary="", url="", payload={}, post_ids=[f"news:{n}"]),
                         None, now() - timedelta(hours=n * 3))
    assert summary(spread, "24h", alert_count=state.count_since)["counts"]["alerts"] == 8  # 0 … 21 hours ago
    assert summary(spread, "7d", alert_count=state.count_since)["counts"]["alerts"] == 12
    state.close()


def test_the_current_hours_pace_against_the_same_hour_before(tmp_path: Path) -> None:
    at = now()
    start = at.replace(minute=0, second=0, microsecond=0)
    into = (at - start) / 2  # halfway into this hour so far: inside the same part of the hour on earlier days
    posts = [spread_post(1, "news", "baihua-news", "local_media", "", "", None, "neutral", 0)]
    posts[0] = posts[0].model_copy(update={"published_at": start + into})
    for day in (1, 1, 2, 3):  # 4 posts at the same moment of earlier days: 4/7 a day
        n = len(posts) + 1
        moment = start + into - timedelta(days=day)
        posts.append(posts[0].model_copy(update={"id": f"news:{n}", "published_at": moment}))
    late = start + timedelta(minutes=59) - timedelta(days=1)  # later in the hour than now: not yet comparable
    posts.append(posts[0].model_copy(update={"id": "news:late", "published_at": late}))
    with EmbeddedStore(tmp_path / "var" / "store", grams=index_grams) as store:
        store.upsert(posts)
    pace = summary(tmp_path)["pace"]
    late_counted = late - timedelta(days=-1) <= at  # only when the test runs in the hour's last minute
    assert pace["posts"] == 1 and pace["days"] == 7
    assert pace["baseline"] == round((4 + late_counted) / 7, 1)


def test_a_keyword_well_above_its_week_is_marked_rising(tmp_path: Path) -> None:
    rows = []
    for n in range(6):  # 恶臭 six times today; 厂区 every day
        rows.append(spread_post(n, "news", "baihua-news", "local_media", "", "", None, "neutral", 1 + n,
                                ("恶臭", "厂区")))
    for day in range(1, 8):
        rows.append(spread_post(100 + day, "news", "baihua-news", "local_media", "", "", None, "neutral",
                                24 * day + 1, ("厂区",) * 1))
        rows += [spread_post(200 + 10 * day + k, "news", "baihua-news", "local_media", "", "", None, "neutral",
                             24 * day + 2, ("厂区",)) for k in range(5)]
    with EmbeddedStore(tmp_path / "var" / "store", grams=index_grams) as store:
        store.upsert(rows)
    keywords = {k["word"]: k for k in summary(tmp_path)["keywords"]}
    assert keywords["恶臭"]["count"] == 6 and keywords["恶臭"]["rising"] is True
    assert (keywords["厂区"]["count"], keywords["厂区"]["baseline"], keywords["厂区"]["rising"]) == (6, 6, False)
    # A watch term is in every post of its scheme: it says nothing as a hot keyword.
    assert [k["word"] for k in summary(tmp_path, watch_terms=["厂区"])["keywords"]] == ["恶臭"]


def test_the_overview_reads_the_same_from_elasticsearch(spread: Path, cluster: Any, es_section: Any) -> None:
    from store.elastic import ElasticStore  # loaded for this test alone, as the backend loads it

    def read(store: Any, key: str) -> dict[str, Any]:
        data = Overview(store, alerts, lambda alert: alert, LABELS).summary(key)
        data["volume"] = [b for b in data["volume"] if b["total"]]  # the range's ends move with the clock
        for e in data["events"]:
            del e["spark"]
        return {name: data[name] for name in ("counts", "volume", "pace", "events", "breakdowns", "authors",
                                              "keywords", "negative_posts", "latest_posts")}

    with EmbeddedStore(spread / "var" / "store", readonly=True) as embedded, \
            ElasticStore(es_section, grams=index_grams, client=cluster.connect(es_section)) as elastic:
        elastic.upsert(embedded.search(SearchQuery(limit=100)).posts)  # the very same posts
        elastic.upsert_events(embedded.events(EventQuery(limit=100)))
        for key in RANGES:
            assert read(elastic, key) == read(embedded, key), key
