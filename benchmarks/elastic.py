"""The Elasticsearch backend on osmem-server: upserts per second, and search and aggregation latency.

    python benchmarks/elastic.py [--posts 20000] [--queries 300] [--url URL]

Posts are built as benchmarks/reindex.py builds them (Weibo-length posts and news articles, words by their
frequency in jieba's dictionary, published over the last 30 days). They are upserted in batches of 500, as
ingest does (each batch refreshed before the next), into an osmem-server started here on 127.0.0.1 (or the
cluster at --url), and into an embedded store for comparison. Then --queries searches drawn from the posts'
own words (words, two words, a phrase, an OR, an exclusion; with and without filters; newest first and by
relevance), and the dashboard's aggregations, are timed on both: p50 and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.grams import index_grams, query_grams
import settings  # noqa: E402
from benchmarks.reindex import Writer  # noqa: E402
from store.base import SearchQuery, Store  # noqa: E402
from store.elastic import ElasticStore  # noqa: E402
from store.elastic.layout import setup  # noqa: E402
from store.embedded import EmbeddedStore  # noqa: E402
from store.query import parse_query  # noqa: E402
from tests.store.clusters import Cluster, PlainJsonNode, free_port  # noqa: E402
from models import Post, now  # noqa: E402

BATCH = 500


def queries(posts: list[Post], count: int, seed: int = 11) -> list[SearchQuery]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        post = rng.choice(posts)
        words = [t for t in post.tokens if len(t) > 1] or post.tokens
        a, b = rng.choice(words), rng.choice(words)
        start = rng.randrange(max(1, len(post.tokens) - 1))
        text = rng.choice([a, f"{a} {b}", f'"{" ".join(post.tokens[start:start + 2])}"', f"{a} OR {b}", f"{a} -{b}"])
        filters: dict[str, Any] = rng.choice([{}, {"sentiment": "negative"}, {"since": now() - timedelta(days=7)},
                                              {"source": post.source}])
        out.append(SearchQuery(text=parse_query(text, query_grams, str.split), sort=rng.choice(["time", "relevance"]), **filters))
    return out


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms"


def timed(calls: list[Callable[[], object]]) -> list[float]:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def measure(name: str, store: Store, posts: list[Post], searches: list[SearchQuery]) -> None:
    started = time.perf_counter()
    for first in range(0, len(posts), BATCH):
        store.upsert(posts[first:first + BATCH])
    took = time.perf_counter() - started
    print(f"{name:13} upsert {len(posts):,} posts in batches of {BATCH}: {took:5.1f} s, {len(posts) / took:7,.0f} posts/s")
    assert store.count(SearchQuery()) == len(posts)
    timed([lambda q=q: store.search(q) for q in searches[:20]])  # warm up
    print(f"{name:13} search ({len(searches)} queries, 20 results):       {percentiles(timed([lambda q=q: store.search(q) for q in searches]))}")
    week = SearchQuery(since=now() - timedelta(days=7))
    aggregations = [lambda: store.volume(week, "hour"), lambda: store.volume(SearchQuery(), "day"),
                    lambda: store.top_keywords(week, 20), lambda: store.by_source(SearchQuery(), 10)] * 10
    print(f"{name:13} aggregations (volume, top keywords, sources): {percentiles(timed(aggregations))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--url", help="a cluster of your own (its client's own transport) instead of osmem-server")
    args = parser.parse_args()
    writer = Writer()
    posts = [writer.post(n) for n in range(args.posts)]
    searches = queries(posts, args.queries)
    server = None
    if args.url:
        from elastic_transport import Urllib3HttpNode

        cluster = Cluster(args.url, Urllib3HttpNode)
    else:
        from osmem_server import OsmemServer

        server = OsmemServer.start(addr=f"127.0.0.1:{free_port()}", japanese=False)
        cluster = Cluster(server.url, PlainJsonNode)
    section = settings.Store(backend="elasticsearch", url=[cluster.url], index_prefix="bench-")
    try:
        with cluster.connect(section) as client:
            setup(client, section)
        with ElasticStore(section, grams=index_grams, client=cluster.connect(section)) as store:
            measure("osmem-server" if server else "cluster", store, posts, searches)
        with tempfile.TemporaryDirectory() as scratch, EmbeddedStore(Path(scratch), grams=index_grams) as embedded:
            measure("embedded", embedded, posts, searches)
    finally:
        cluster.drop(section.index_prefix)
        if server:
            server.close()


if __name__ == "__main__":
    main()
