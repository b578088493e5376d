"""Search on a store of real-shaped posts: ingest speed and index size, then each kind of query's latency.

    python benchmarks/search.py [--posts 50000] [--measure-at 20000] [--store DIR] [--data ../shared/data]

Posts are Weibo posts from ../shared/data (the sentiment training sets): two in three as they are (tens of
characters), one in three an article of 400-2,500 characters made of consecutive posts under a THUCNews
headline; one of 300 sources, published over the last 30 days. They go through the real `Analyzer` and are
upserted in batches of 500, as ingest does. At --measure-at posts it prints the posts per second of analysis
and of the upserts, and the size of the index and of posts.db; at --posts, the p50 and p95 of each kind of
query (100 runs each, newest 20 first, as `yuqing search` asks), on a store opened read-only.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.grams import index_grams, query_grams  # noqa: E402
from analysis.pipeline import Analyzer  # noqa: E402
from models import Author, Post, now  # noqa: E402
from store.base import SearchQuery  # noqa: E402
from store.embedded import EmbeddedStore  # noqa: E402
from store.query import Query, parse_query  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
BATCH = 500
QUERIES = [  # (kind, query, sort)
    ("a common word (two characters)", "疫情", "time"),
    ("the same, by relevance", "疫情", "relevance"),
    ("one character", "臭", "time"),
    ("a rare word", "偷排", "time"),
    ("a long word", "新冠肺炎", "time"),
    ("a phrase", '"武汉 加油"', "time"),
    ("two words", "医生 感动", "time"),
    ("OR and an exclusion", "开心 OR 快乐 -生日", "time"),
    ("parentheses", "(开心 OR 快乐) -生日", "time"),
    ("a Latin word", "iphone", "time"),
    ("in titles", "title:中国", "time"),
    ("a value and a word", "sentiment:negative 工作", "time"),
]


def texts(data: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line)["text"] for path in sorted((data / "sentiment" / "train").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    titles = [json.loads(line)["text"] for line in
              (data / "topics" / "thucnews_titles_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r.strip()], titles


def posts(data: Path, count: int, seed: int = 7) -> Iterator[Post]:
    rows, titles = texts(data)
    rng = random.Random(seed)
    weights = [1 / rank for rank in range(1, 301)]
    start = now()
    for n in range(count):
        at = rng.randrange(len(rows))
        if rng.random() < 1 / 3:
            length, parts = rng.randint(400, 2500), []
            while sum(map(len, parts)) < length:
                parts.append(rows[at % len(rows)])
                at += 1
            title, content, platform = titles[n % len(titles)], "".join(parts)[:length], "news"
        else:
            title, content, platform = "", rows[at], "weibo"
        source = rng.choices(range(300), weights)[0]
        yield Post(id=f"{platform}:{n}", platform=platform, source=f"source-{source}",
                   url=f"https://example.com/{source}/{n}.html", title=title, content=content,
                   author=Author(name=f"作者{n % 5000}"),
                   published_at=start - timedelta(seconds=rng.randrange(30 * 86400)))


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def open_writer(folder: Path) -> EmbeddedStore:
    return EmbeddedStore(folder, grams=index_grams)


def parse(text: str, analyzer: Analyzer) -> Query | None:
    return parse_query(text, query_grams, analyzer.tokenize)


def build(folder: Path, data: Path, count: int, measure_at: int) -> None:
    analyzer = Analyzer()
    analysing = upserting = 0.0
    batch: list[Post] = []
    with open_writer(folder) as store:
        for n, post in enumerate(posts(data, count), 1):
            batch.append(post)
            if len(batch) < BATCH and n < count:
                continue
            started = time.perf_counter()
            analysed = analyzer.analyse_many(batch)
            analysing += time.perf_counter() - started
            started = time.perf_counter()
            store.upsert(analysed)
            upserting += time.perf_counter() - started
            batch = []
            print(f"\ringesting: {n} posts", end="", file=sys.stderr, flush=True)
            if n == measure_at:
                print(f"\r{n} posts: analysis {n / analysing:,.0f} posts/s, upserts {n / upserting:,.0f} posts/s, "
                      f"ingest {n / (analysing + upserting):,.0f} posts/s; index {size_mb(folder / 'index'):.1f} MB, "
                      f"posts.db {size_mb(folder) - size_mb(folder / 'index'):.1f} MB")
    print(file=sys.stderr)


def latencies(folder: Path) -> None:
    analyzer = Analyzer()
    with EmbeddedStore(folder, readonly=True) as store:
        with store._searching() as searcher:
            print(f"{searcher.num_docs} posts in {searcher.num_segments} index segments")
        for kind, text, sort in QUERIES:
            query = SearchQuery(text=parse(text, analyzer), sort=sort)  # type: ignore[arg-type]
            total = store.search(query).total
            times = []
            for _ in range(100):
                started = time.perf_counter()
                store.search(query)
                times.append((time.perf_counter() - started) * 1000)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"{kind:32} {text:22} {total:6} posts  p50 {statistics.median(times):6.2f} ms  p95 {p95:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--measure-at", type=int, default=20_000)
    parser.add_argument("--store", type=Path, help="store folder (kept); built there when it holds no store")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no corpora at {args.data}: they come with ../shared")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.store or Path(scratch) / "store"
        if not (folder / "posts.db").exists():
            build(folder, args.data, args.posts, args.measure_at)
        latencies(folder)


if __name__ == "__main__":
    main()
