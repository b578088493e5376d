"""The contract suite runs against every Store backend in BACKENDS: the embedded store; the Elasticsearch
backend on osmem-server (started once per session); and on a real cluster when YUQING_ES_URL is set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from analysis.grams import index_grams, query_grams
from analysis.pipeline import Analyzer
from analysis.tokens import Tokenizer
from settings import Scheme
from store.base import Store
from store.elastic import ElasticStore
from store.embedded import EmbeddedStore
from store.query import Query, parse_query
from tests.conftest import cluster_named, set_up
from models import SHANGHAI, Author, Event, Post, SchemeMatch, Sentiment, now

BASE = datetime(2024, 3, 12, 9, 0, tzinfo=SHANGHAI)
SCHEME = Scheme(name="beichen", keywords=["北辰燃料乙醇"])  # in jieba's dictionary: one word, as in the demo


@cache
def _tokenizer() -> Tokenizer:
    return Tokenizer(SCHEME.terms())


def parse(text: str) -> Query | None:
    """A query as the command line parses it: analysis's grams and words."""
    return parse_query(text, query_grams, _tokenizer().tokenize)


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


def make_event(n: int, *, quiet: timedelta, risk: float = 0.5, schemes: tuple[str, ...] = ("co",),
               posts: int = 2) -> Event:
    """An event whose last post was `quiet` ago, as analysis hands it over."""
    last = now() - quiet
    first = last - timedelta(minutes=25)
    return Event(
        id=f"evt:{n:016x}", title=f"事件{n}：北辰燃料乙醇厂区附近恶臭", keywords=["恶臭", "厂区"], schemes=list(schemes),
        first_post=f"news:{n}", first_poster="河西小区业主", first_seen=first, last_seen=last, posts=posts,
        by_platform={"news": posts}, by_tier={"local_media": posts}, by_sentiment={"negative": posts},
        by_source={"news-a": posts}, per_10min={first.replace(minute=first.minute // 10 * 10, second=0,
                                                             microsecond=0).isoformat(): posts},
        per_hour={first.replace(minute=0, second=0, microsecond=0).isoformat(): posts}, growth=posts, risk=risk,
        responses=[], terms={"恶臭": 1.2, "厂区": 0.8, "§co/环境污染": 1.44, "pm2.5": 0.1}, updated_at=now())


BACKENDS = ("embedded", "osmem", "elasticsearch")


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    if request.param == "embedded":
        def make() -> Store:
            return EmbeddedStore(tmp_path / "store", grams=index_grams)
    else:
        cluster = cluster_named(request, request.param)
        section = set_up(cluster, request)

        def make() -> Store:
            return ElasticStore(section, grams=index_grams, client=cluster.connect(section))
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


# Posts as they come from sites and Weibo: traditional characters, full-width letters, names, @mentions,
# Latin words and numbers; what each query finds is written down in the tests by reading these texts.
# (n, platform, source, tier, author, region, title, content, sentiment)
REAL_SHAPED = [
    (1, "news", "baihua-news", "local_media", "本网记者 李明", "", "北辰燃料乙醇回应异味投诉",
     "北辰燃料乙醇有限公司今天表示，已配合白桦市生态环境局开展调查，结果将及时公布。", "neutral"),
    (2, "forum", "baihua-forum", "individual", "河西小区业主", "", "",
     "@河西老王 你们小区也闻到了吗？晚上臭得睡不着，肯定是北辰乙醇厂在偷排污水！", "negative"),
    (3, "weibo", "weibo", "individual", "香港網友", "香港", "",
     "北辰燃料乙醇廠區附近惡臭難忍，環保局快來管管", "negative"),
    (4, "weibo", "weibo", "self_media", "环保观察", "北京", "",
     "ＰＭ２.５超标，北辰公司的废气排放数据公开了吗？", "neutral"),
    (5, "news", "baihua-evening", "local_media", "本报记者 赵强", "", "河水发黑 居民担忧",
     "市民王建国反映，排污口附近河水发黑，记者前往调查。", "negative"),
    (6, "news", "tech-news", "industry", "", "", "白桦风电项目开工",
     "白桦风电项目今日开工。另讯：iPhone15发布会今晚举行。", None),
    (7, "forum", "baihua-forum", "individual", "找工作的小张", "", "北辰燃料乙醇招聘操作工",
     "工资待遇不错，有意者请联系人事部。", "neutral"),
    (8, "weibo", "weibo", "individual", "吃瓜群众", "北京", "",
     "昨天B站UP主发视频说，3号排污口夜里偷偷放水，@北辰燃料乙醇 出来回应一下", "negative"),
]


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return Analyzer([SCHEME])


@pytest.fixture(scope="session")
def real_shaped(analyzer: Analyzer) -> list[Post]:
    """REAL_SHAPED through the real analysis (normalised text, jieba tokens, schemes), sentiment as written."""
    posts = []
    for n, platform, source, tier, author, region, title, content, label in REAL_SHAPED:
        post = analyzer.analyse(Post(
            id=f"{platform}:{n}", platform=platform, source=source, source_tier=tier, url=f"http://127.0.0.1/r/{n}",
            title=title, content=content, author=Author(name=author), region=region,
            published_at=BASE + timedelta(hours=n)))
        sentiment = Sentiment(label=label, score=0.5) if label else None  # type: ignore[arg-type]
        posts.append(post.model_copy(update={"sentiment": sentiment}))
    return posts
