from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from analysis.grams import index_grams
import settings as config
from alerts.engine import AlertEngine
from alerts.state import AlertState
from store.embedded import EmbeddedStore
from yuqing.demo.mailsink import MailSink
from models import Post, SchemeMatch, Sentiment, now


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_settings(smtp_port: int, **alerts: object) -> config.Settings:
    return config.Settings(
        schemes=[{"name": "co", "keywords": ["北辰燃料乙醇"]}],
        alerts={"recipients": ["oncall@example.com", "chief@example.com"], "retry_base": 10, "retry_max": 60,
                "rules": [
                    {"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭", "爆炸"], "severity": "high"},
                    {"name": "neg", "type": "negative", "scheme": "co", "threshold": 0.3},
                ], **alerts},
        smtp={"host": "127.0.0.1", "port": smtp_port, "timeout": 3, "sender": "yuqing@example.org"},
    )


def make_post(n: int, title: str, content: str = "", score: float = 0.5, age: timedelta = timedelta(minutes=5),
              scheme: str | None = "co") -> Post:
    label = "negative" if score < 0.35 else "positive" if score > 0.65 else "neutral"
    return Post(id=f"news:{n}", platform="news", source="baihua", url=f"http://127.0.0.1/n/{n}.html", title=title,
                content=content, tokens=title.split(), published_at=now() - age, crawled_at=now(),
                sentiment=Sentiment(label=label, score=score),  # type: ignore[arg-type]
                schemes=[SchemeMatch(name=scheme, terms=["北辰燃料乙醇"])] if scheme else [],
                author={"name": "河西小区业主"})


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
