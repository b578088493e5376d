"""The contract suite runs against every Store backend in BACKENDS: the embedded store; the Elasticsearch
backend on osmem-server (started once per session); and on a real cluster when YUQING_ES_URL is set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from store.base import Store
from store.elastic import ElasticStore
from store.embedded import EmbeddedStore
from tests.conftest import cluster_named, set_up
from models import SHANGHAI, Post, SchemeMatch, Sentiment

BASE = datetime(2024, 3, 12, 9, 0, tzinfo=SHANGHAI)


def make_post(n: int, text: str, *, source: str = "news-a", sentiment: str = "neutral", hours: float = 0,
              schemes: tuple[str, ...] = ("co",), keywords: tuple[str, ...] = (), platform: str = "news") -> Post:
    score = {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[sentiment]
    return Post(
        id=f"{platform}:{n}", platform=platform, source=source, url=f"http://127.0.0.1/p/{n}", title=f"标题{n}",
        content=text.replace(" ", ""), tokens=text.split(), keywords=list(keywords),
        sentiment=Sentiment(label=sentiment, score=score),  # type: ignore[arg-type]
        schemes=[SchemeMatch(name=s) for s in schemes], published_at=BASE + timedelta(hours=hours),
        crawled_at=BASE + timedelta(hours=hours, minutes=5),
    )


BACKENDS = ("embedded", "osmem", "elasticsearch")


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    if request.param == "embedded":
        def make() -> Store:
            return EmbeddedStore(tmp_path / "store")
    else:
        cluster = cluster_named(request, request.param)
        section = set_up(cluster, request)

        def make() -> Store:
            return ElasticStore(section, client=cluster.connect(section))
    opened: list[Store] = []

    def opener() -> Store:
        store = make()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        try:
            store.close()
        except Exception:  # already closed by the test
            pass


@pytest.fixture
def store(open_backend: Callable[[], Store]) -> Store:
    return open_backend()


@pytest.fixture
def corpus() -> list[Post]:
    return [
        make_post(1, "北辰 燃料 乙醇 厂区 恶臭 投诉", sentiment="negative", hours=0, keywords=("恶臭", "投诉")),
        make_post(2, "北辰 燃料 乙醇 开放日 市民 点赞", sentiment="positive", hours=1, keywords=("开放日",)),
        make_post(3, "乙醇 燃料 价格 上涨", hours=2, source="news-b", keywords=("价格",)),
        make_post(4, "河水 发黑 举报 北辰", sentiment="negative", hours=3, source="forum", keywords=("举报", "投诉"),
                  platform="forum"),
        make_post(5, "白桦 风电 项目 开工", hours=14.5, source="news-b", schemes=(), keywords=("风电",)),
    ]
