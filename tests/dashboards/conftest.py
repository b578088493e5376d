from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.grams import index_grams, query_grams
import settings as config
from store.embedded import EmbeddedStore
from store.query import Query, parse_query
from models import Post, SchemeMatch, Sentiment, now

HOSTS = config.Dashboard().hosts  # what a dashboard on the default 127.0.0.1 answers to
SOURCES = ("baihua-news", "baihua-forum")


def parse(text: str) -> Query | None:
    """The dashboard's query parser, as the service gives it: analysis's grams, the configured sources."""
    return parse_query(text, query_grams, str.split, {"source": SOURCES})


XSS_TITLE = '北辰乙醇<img src=x onerror="document.body.dataset.pwned=1">通报'


def _post(n: int, title: str, label: str, hours: float, source: str = "baihua-news") -> Post:
    score = {"negative": 0.05, "neutral": 0.5, "positive": 0.95}[label]
    return Post(id=f"news:{n}", platform="news", source=source, url=f"http://127.0.0.1/n/{n}.html", title=title,
                content=f"{title}。正文内容。", tokens=title.split(), keywords=["北辰燃料乙醇", f"词{n % 3}"],
                sentiment=Sentiment(label=label, score=score),  # type: ignore[arg-type]
                schemes=[SchemeMatch(name="co")], published_at=now() - timedelta(hours=hours),
                author={"name": "记者"})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "store", grams=index_grams)
    s.upsert([
        _post(1, "北辰燃料乙醇 厂区 恶臭 难忍", "negative", 1, "baihua-forum"),
        _post(2, "北辰燃料乙醇 开放日 好评", "positive", 3),
        _post(3, "白桦 风电 项目 开工", "neutral", 5),
        _post(4, XSS_TITLE, "negative", 2),
        _post(5, "上周 的 旧闻", "neutral", 24 * 5),
    ])
    yield s
    s.close()


def alerts(limit: int) -> list[dict[str, Any]]:
    return [{"id": 7, "created_at": now().isoformat(), "rule": "sensitive-terms", "scheme": "co",
             "severity": "high", "state": "open", "title": "北辰燃料乙醇 厂区 恶臭 难忍",
             "url": "http://127.0.0.1/n/1.html", "delivery": "sent"}][:limit]


def source_health() -> list[dict[str, Any]]:
    base = {"type": "site", "platform": "news", "enabled": True, "alert_after": 3600.0, "outage_since": None,
            "last_attempt": now().isoformat(), "last_success": now().isoformat(), "consecutive_failures": 0}
    return [
        {**base, "source": "baihua-news", "url": "http://127.0.0.1/news/", "status": "ok", "error_class": None,
         "message": "12 items, finished", "items": [10, 12]},
        {**base, "source": "weibo", "url": "http://127.0.0.1/weibo/", "status": "blocked", "error_class": "captcha",
         "message": "<b>blocked</b> (captcha at http://127.0.0.1/weibo/)", "items": [30, 0],
         "consecutive_failures": 1, "outage_since": now().isoformat()},
    ]


# ---- alert pages: the demo's story in a real store, a real alert state, links signed as mail signs them ----
STORY_START = now() - timedelta(hours=3)


@dataclass
class Desk:
    """The dashboard over the demo's story, as the service wires it."""

    app: Any
    state: Any  # alerts.state.AlertState
    signer: Any  # alerts.tokens.Signer
    store: EmbeddedStore
    evidence: Path
    alert_id: int  # the complaint's alert, open
    hostile_id: int  # an alert on a post whose title is markup

    def client(self) -> Any:
        from starlette.testclient import TestClient

        return TestClient(self.app, base_url="http://127.0.0.1", follow_redirects=False)


def open_alert(state: Any, post: Post, severity: str = "medium") -> int:
    """A post's own alert (a post of no event), as the engine opens one, without mail."""
    from alerts.state import NewAlert

    alert_id = state.open_alert(NewAlert(
        key=f"post:beichen:{post.id}", rule="negative-post", scheme="beichen", severity=severity, title=post.title,
        summary=f"负面信息（{post.source}）", url=post.url, payload={"risk": post.risk}, post_ids=[post.id],
        reasons=[{"rule": "negative-post", "title": "负面信息", "reason": "情感倾向为负面"}]), None, post.crawled_at)
    assert alert_id is not None
    return alert_id


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    from alerts.state import AlertState
    from alerts.statement import StatementWriter
    from alerts.tokens import Signer
    from dashboards.web.app import create_app
    from alerts.engine import AlertEngine
    from alerts.evidence import EvidenceLocker
    from tests.story import story, story_settings
    from yuqing.service import alert_desk

    posts, events = story(STORY_START)
    hostile = _post(9, XSS_TITLE, "negative", 1).model_copy(update={"title": XSS_TITLE, "url": "javascript:alert(1)"})
    store = EmbeddedStore(tmp_path / "store", grams=index_grams)
    store.upsert([*posts, hostile])
    store.upsert_events(events)
    state = AlertState.for_data_dir(tmp_path / "data")
    signer = Signer(b"s" * 32, "http://127.0.0.1/", ttl=3600)
    # The story's alert as the engine opens it (its mail stays in the outbox); a post's alert of the older kind.
    (alert_id,) = AlertEngine(story_settings(), store, state, signer=signer).evaluate()
    hostile_id = open_alert(state, hostile)
    evidence = tmp_path / "data" / "evidence"
    app = create_app(store, state.recent_alerts, parse, allowed_hosts=HOSTS,
                     **alert_desk(state, signer, StatementWriter(store, contact="党委宣传部 0000-0000000"),
                                  EvidenceLocker(evidence, timeout=5).files))
    yield Desk(app, state, signer, store, evidence, alert_id, hostile_id)
    state.close()
    store.close()
