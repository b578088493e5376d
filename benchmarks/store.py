"""The store: ingest speed, search latency, one dashboard refresh and disk size, against SQLite FTS5.

    python benchmarks/store.py [--posts 200000] [--osmem-posts 5000] [--searches 100] [--data ../shared/data]
                               [--url URL] [--analysed FILE]

Posts are Weibo posts from the corpora (the sentiment training sets): two in three as they are (tens of
characters), one in three an article of 400-2,500 characters made of consecutive posts under a THUCNews
headline; one of 300 sources, published over the last 30 days. They go through the real `Analyzer` once,
before anything is timed (kept in a scratch file, not in memory), then each backend is fed the same analysed
posts in batches of yuqing.ingest.BATCH, as ingest does, and only the writes are timed:

- the embedded store (SQLite and tantivy), on --posts posts;
- a plain SQLite table with an FTS5 index (the `trigram` tokenizer: it finds substrings, as the store does),
  on the same posts in the same run, as the reference; its queries are MATCH for text (LIKE for a word of
  fewer than three characters, which a trigram index cannot look up), WHERE filters, ORDER BY time or
  FTS5's rank, and GROUP BY for the aggregations;
- the Elasticsearch backend on an osmem-server started here (or the cluster at --url), on --osmem-posts
  posts only: it takes tens of posts a second.

Then --searches mixed searches drawn from the posts' own words (a word, part of a word, a phrase, two words,
an OR, an exclusion; with no filter, a sentiment, the last 7 days or a source; newest first and by
relevance; 20 results and the total), and a dashboard refresh (what `dashboards/web/app.py` asks the store
for on one refresh of the summary, for each range), are timed on each. Prints one table, the embedded
store's figures over FTS5's, and each target met or missed.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import settings  # noqa: E402
from analysis.grams import index_grams, query_grams  # noqa: E402
from analysis.pipeline import Analyzer  # noqa: E402
from dashboards.web.overview import RANGES, Overview  # noqa: E402
from models import Author, Post, now  # noqa: E402
from store.base import SearchQuery, Store  # noqa: E402
from store.embedded import EmbeddedStore  # noqa: E402
from store.query import parse_query  # noqa: E402
from yuqing.ingest import BATCH  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
TARGETS = {"ingest": 5_000, "p95": 50.0, "refresh": 300.0}  # posts/s at least; ms at most
TRIGRAM = 3  # the shortest string a trigram index can look up


# ---- posts ----
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


def analyse(data: Path, count: int, analyzer: Analyzer, out: Path) -> None:
    started, batch = time.perf_counter(), []
    with out.open("w", encoding="utf-8") as file:
        for n, post in enumerate(posts(data, count), 1):
            batch.append(post)
            if len(batch) == BATCH or n == count:
                file.writelines(p.model_dump_json() + "\n" for p in analyzer.analyse_many(batch))
                batch = []
                print(f"\ranalysing: {n} posts", end="", file=sys.stderr, flush=True)
    print(f"\ranalysed {count:,} posts in {time.perf_counter() - started:.0f} s (not timed below)", file=sys.stderr)


def kept(analysed: Path) -> int:
    """How many analysed posts a file kept by an earlier run holds (0 when there is none)."""
    if not analysed.exists():
        return 0
    with analysed.open(encoding="utf-8") as file:
        return sum(1 for _ in file)


def batches(analysed: Path, count: int) -> Iterator[list[Post]]:
    batch: list[Post] = []
    with analysed.open(encoding="utf-8") as file:
        for n, line in zip(range(count), file):
            batch.append(Post.model_validate_json(line))
            if len(batch) == BATCH or n == count - 1:
                yield batch
                batch = []


# ---- searches: one description, read by the store's query language and compiled for FTS5 ----
@dataclass
class Search:
    kind: str
    all: list[str] = field(default_factory=list)  # each (a phrase is its words joined)
    any: list[str] = field(default_factory=list)  # at least one
    none: list[str] = field(default_factory=list)  # excluded
    phrase: list[str] = field(default_factory=list)  # words next to each other
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = "time"

    def text(self) -> str:
        parts = [*self.all, " OR ".join(self.any), f'"{" ".join(self.phrase)}"' if self.phrase else "",
                 *(f"-{w}" for w in self.none)]
        return " ".join(p for p in parts if p)

    def query(self, analyzer: Analyzer) -> SearchQuery:
        text = parse_query(self.text(), query_grams, analyzer.tokenize)
        return SearchQuery(text=text, sort=self.sort, **self.filters)  # type: ignore[arg-type]


def searches(sample: list[Post], count: int, seed: int = 11) -> list[Search]:
    rng = random.Random(seed)
    kinds = ["word", "part of a word", "phrase", "two words", "OR", "exclusion"]
    start = now()
    out = []
    for n in range(count):
        post = rng.choice(sample)
        words = [t for t in post.tokens if len(t) > 1 and t.isalnum()] or ["的"]
        a, b = rng.choice(words), rng.choice(words)
        kind = kinds[n % len(kinds)]
        search = Search(kind, sort=("time", "relevance")[n // len(kinds) % 2],
                        filters=rng.choice([{}, {}, {"sentiment": "negative"}, {"since": start - timedelta(days=7)},
                                            {"source": post.source}]))
        if kind == "word":
            search.all = [a]
        elif kind == "part of a word":
            long = [w for w in words if len(w) > 2 and not w.isascii()] or words  # Latin words match whole
            word = rng.choice(long)
            size = rng.randint(1, len(word) - 1) if len(word) > 1 else 1
            first = rng.randrange(len(word) - size + 1)
            search.all = [word[first:first + size]]
        elif kind == "phrase":
            at = rng.randrange(max(1, len(post.tokens) - 1))
            pair = [t for t in post.tokens[at:at + 2] if t.isalnum()]
            search.phrase = pair if len(pair) == 2 else [a, b]
        elif kind == "two words":
            search.all = [a, b]
        elif kind == "OR":
            search.any = [a, b]
        else:
            search.all, search.none = [a], [b] if b != a else ["生日"]
        out.append(search)
    return out


# ---- the reference: a plain SQLite table with an FTS5 trigram index ----
FTS_SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, content TEXT, source TEXT, sentiment TEXT,
                    published INTEGER, doc TEXT);
CREATE INDEX posts_published ON posts (published);
CREATE TABLE keywords (post INTEGER, keyword TEXT, published INTEGER);
CREATE INDEX keywords_published ON keywords (published);
CREATE VIRTUAL TABLE fts USING fts5(title, content, content='posts', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER posts_ai AFTER INSERT ON posts BEGIN
  INSERT INTO fts (rowid, title, content) VALUES (new.rowid, new.title, new.content);
END;
CREATE TRIGGER posts_ad AFTER DELETE ON posts BEGIN
  INSERT INTO fts (fts, rowid, title, content) VALUES ('delete', old.rowid, old.title, old.content);
  DELETE FROM keywords WHERE post = old.rowid;
END;
"""


class Fts5:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.executescript(FTS_SCHEMA)

    def upsert(self, batch: list[Post]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM posts WHERE id = ?", [(p.id,) for p in batch])
            for post in batch:
                published = int(post.published_at.timestamp())
                rowid = self.db.execute(
                    "INSERT INTO posts (id, title, content, source, sentiment, published, doc) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (post.id, post.title, post.content, post.source, post.sentiment.label if post.sentiment else
                     "unknown", published, post.model_dump_json())).lastrowid
                self.db.executemany("INSERT INTO keywords VALUES (?, ?, ?)",
                                    [(rowid, k, published) for k in post.keywords])

    def where(self, query: SearchQuery, search: Search | None) -> tuple[str, list[Any], bool]:
        """SQL conditions and their arguments, and whether FTS5's MATCH (and so its rank) is used."""
        sql, args, match = [], [], []
        like = "(p.title LIKE ? OR p.content LIKE ?)"

        def looked_up(word: str) -> bool:
            return len(word) >= TRIGRAM

        if search:
            for word in [*search.all, "".join(search.phrase)] if search.phrase else search.all:
                if looked_up(word):
                    match.append(f'"{word}"')
                else:
                    sql.append(like)
                    args += [f"%{word}%"] * 2
            if search.any and all(map(looked_up, search.any)):
                match.append("(" + " OR ".join(f'"{w}"' for w in search.any) + ")")
            elif search.any:
                sql.append("(" + " OR ".join([like] * len(search.any)) + ")")
                args += [f"%{w}%" for w in search.any for _ in range(2)]
            for word in search.none:
                if match and looked_up(word):
                    match[-1] = f'{match[-1]} NOT "{word}"'
                else:
                    sql.append(f"NOT {like}")
                    args += [f"%{word}%"] * 2
        if match:
            sql.append("fts MATCH ?")
            args.append(" AND ".join(match))
        for column, value in (("p.sentiment", query.sentiment), ("p.source", query.source)):
            if value:
                sql.append(f"{column} = ?")
                args.append(value)
        if query.since:
            sql.append("p.published >= ?")
            args.append(int(query.since.timestamp()))
        if query.until:
            sql.append("p.published < ?")
            args.append(int(query.until.timestamp()))
        return " AND ".join(sql) or "1", args, bool(match)

    def search(self, query: SearchQuery, search: Search | None = None) -> tuple[int, list[Post]]:
        where, args, match = self.where(query, search)
        tables = "posts p JOIN fts ON fts.rowid = p.rowid" if match else "posts p"
        order = "fts.rank" if match and query.sort == "relevance" else "p.published DESC"
        total = self.db.execute(f"SELECT COUNT(*) FROM {tables} WHERE {where}", args).fetchone()[0]
        rows = self.db.execute(f"SELECT p.doc FROM {tables} WHERE {where} ORDER BY {order} LIMIT ?",
                               [*args, query.limit]).fetchall()
        return total, [Post.model_validate_json(doc) for doc, in rows]

    def refresh(self, key: str) -> None:
        """What `refresh` asks the embedded store for, in SQL."""
        span, interval = RANGES[key]
        at = now()
        window = SearchQuery(since=at - span, until=at, limit=10)
        width, local = {"10min": 600, "hour": 3600, "day": 86400}[interval], 8 * 3600  # Beijing time's buckets
        since, until = int(window.since.timestamp()), int(at.timestamp())  # type: ignore[union-attr]
        self.db.execute("SELECT (published + ?) / ?, sentiment, COUNT(*) FROM posts "
                        "WHERE published >= ? AND published < ? GROUP BY 1, 2", (local, width, since, until)).fetchall()
        self.search(SearchQuery(since=window.since, until=at, sentiment="negative", limit=10))
        self.search(window)
        self.db.execute("SELECT COUNT(*) FROM posts").fetchone()
        self.db.execute("SELECT keyword, COUNT(*) AS n FROM keywords WHERE published >= ? AND published < ? "
                        "GROUP BY keyword ORDER BY n DESC LIMIT 20", (since, until)).fetchall()
        self.db.execute("SELECT source, COUNT(*) AS n FROM posts WHERE published >= ? AND published < ? "
                        "GROUP BY source ORDER BY n DESC LIMIT 10", (since, until)).fetchall()

    def size_mb(self) -> float:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size / 2**20


def refresh(store: Store, key: str) -> None:
    """One refresh of the dashboard's overview (dashboards/web/overview.py) for one range, without alerts. The
    FTS5 reference above answers the trend, lists, keywords and sources only: its figure is a floor."""
    Overview(store, lambda limit: [], lambda alert: alert, {}).summary(key)


# ---- measuring ----
@dataclass
class Figures:
    backend: str
    posts: int
    ingest: float = 0.0  # posts/s
    p50: float = 0.0  # ms
    p95: float = 0.0
    refresh: dict[str, float] = field(default_factory=dict)  # range → ms (median of 5)
    disk: float | None = None  # MB


def timed_ms(calls: list[Callable[[], object]]) -> list[float]:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def measure(figures: Figures, analysed: Path, wanted: list[Search], upsert: Callable[[list[Post]], object],
            search: Callable[[Search], object], refresh_one: Callable[[str], object],
            bulk: Callable[[], AbstractContextManager[object]] = nullcontext) -> Figures:
    took = 0.0
    with bulk():  # as ingest writes a backlog; the block's end (every post searchable by all) is timed too
        for batch in batches(analysed, figures.posts):
            started = time.perf_counter()
            upsert(batch)
            took += time.perf_counter() - started
        started = time.perf_counter()
    took += time.perf_counter() - started
    figures.ingest = figures.posts / took
    timed_ms([lambda s=s: search(s) for s in wanted[:10]])  # warm up
    times = timed_ms([lambda s=s: search(s) for s in wanted])
    figures.p50, figures.p95 = statistics.median(times), p95(times)
    for key in RANGES:
        figures.refresh[key] = statistics.median(timed_ms([lambda k=key: refresh_one(k)] * 5))
    print(f"{figures.backend:13} {figures.posts:,} posts: ingest {figures.ingest:,.0f} posts/s, "
          f"search p50 {figures.p50:.1f} ms p95 {figures.p95:.1f} ms, refresh "
          + ", ".join(f"{k} {v:.0f} ms" for k, v in figures.refresh.items())
          + (f", disk {figures.disk:.0f} MB" if figures.disk is not None else ""), file=sys.stderr)
    return figures


def run_embedded(folder: Path, analysed: Path, wanted: list[Search], count: int, analyzer: Analyzer) -> Figures:
    with EmbeddedStore(folder, grams=index_grams) as store:
        figures = measure(Figures("embedded", count), analysed, wanted, store.upsert,
                          lambda s: store.search(s.query(analyzer)), lambda k: refresh(store, k), store.bulk)
    figures.disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
    return figures


def run_fts5(path: Path, analysed: Path, wanted: list[Search], count: int, analyzer: Analyzer) -> Figures:
    fts = Fts5(path)
    figures = measure(Figures("FTS5 trigram", count), analysed, wanted, fts.upsert,
                      lambda s: fts.search(s.query(analyzer), s), fts.refresh)
    figures.disk = fts.size_mb()
    fts.db.close()
    return figures


def run_elastic(analysed: Path, wanted: list[Search], count: int, analyzer: Analyzer, url: str | None) -> Figures:
    from store.elastic import ElasticStore
    from store.elastic.layout import setup
    from tests.store.clusters import Cluster, PlainJsonNode, free_port

    server = None
    if url:
        from elastic_transport import Urllib3HttpNode

        cluster = Cluster(url, Urllib3HttpNode)
    else:
        from osmem_server import OsmemServer

        server = OsmemServer.start(addr=f"127.0.0.1:{free_port()}", japanese=False)
        cluster = Cluster(server.url, PlainJsonNode)
    section = settings.Store(backend="elasticsearch", url=[cluster.url], index_prefix="bench-")
    try:
        with cluster.connect(section) as client:
            setup(client, section)
        with ElasticStore(section, grams=index_grams, client=cluster.connect(section)) as store:
            return measure(Figures("osmem-server" if server else "cluster", count), analysed, wanted, store.upsert,
                           lambda s: store.search(s.query(analyzer)), lambda k: refresh(store, k), store.bulk)
    finally:
        cluster.drop(section.index_prefix)
        if server:
            server.close()


def table(rows: list[Figures], embedded: Figures, fts: Figures) -> str:
    worst = max(embedded.refresh, key=embedded.refresh.__getitem__)

    def mark(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    lines = [f"{'backend':14} {'posts':>8} {'ingest posts/s':>15} {'search p50 ms':>14} {'p95 ms':>8} "
             f"{'refresh ms':>11} {'disk MB':>8}"]
    for f in rows:
        disk = f"{f.disk:8.0f}" if f.disk is not None else f"{'-':>8}"
        lines.append(f"{f.backend:14} {f.posts:8,} {f.ingest:15,.0f} {f.p50:14.1f} {f.p95:8.1f} "
                     f"{f.refresh[worst]:11.0f} {disk}")
    lines.append(f"{'embedded/FTS5':14} {'':8} {embedded.ingest / fts.ingest:14.2f}x {embedded.p50 / fts.p50:13.2f}x "
                 f"{embedded.p95 / fts.p95:7.2f}x {embedded.refresh[worst] / fts.refresh[worst]:10.2f}x "
                 f"{embedded.disk / fts.disk:7.2f}x")  # type: ignore[operator]
    lines.append(f"{'targets':14} {embedded.posts:8,} {'>= ' + format(TARGETS['ingest'], ','):>15} {'':14} "
                 f"{'<= ' + format(TARGETS['p95'], 'g'):>8} {'<= ' + format(TARGETS['refresh'], 'g'):>11}")
    lines.append(f"{'embedded':14} {'':8} {mark(embedded.ingest >= TARGETS['ingest']):>15} {'':14} "
                 f"{mark(embedded.p95 <= TARGETS['p95']):>8} {mark(embedded.refresh[worst] <= TARGETS['refresh']):>11}")
    lines.append(f"refresh: the widest range's ({worst}) median of 5; every range: " + "; ".join(
        f"{f.backend} " + ", ".join(f"{k} {v:.0f}" for k, v in f.refresh.items()) for f in rows) + " ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=200_000, help="posts for the embedded store and FTS5")
    parser.add_argument("--osmem-posts", type=int, default=5_000,
                        help="posts for osmem-server, which ingests tens a second (0: leave it out)")
    parser.add_argument("--searches", type=int, default=100)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--url", help="a cluster of your own (its client's own transport) instead of osmem-server")
    parser.add_argument("--analysed", type=Path,
                        help="keep the analysed posts in this file and read them from it on later runs (untimed "
                             "either way; the same posts each time)")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no corpora at {args.data}: they come with ../shared (or pass --data)")
    analyzer = Analyzer()
    with tempfile.TemporaryDirectory() as scratch:
        wanted_posts = max(args.posts, args.osmem_posts)
        analysed = args.analysed or Path(scratch) / "analysed.jsonl"
        if kept(analysed) < wanted_posts:
            analyse(args.data, wanted_posts, analyzer, analysed)
        # Drawn from the posts every backend holds, so each search finds posts on each.
        sample = [p for batch in batches(analysed, min(args.posts, args.osmem_posts or args.posts)) for p in batch]
        wanted = searches(sample, args.searches)
        rows = [run_embedded(Path(scratch) / "store", analysed, wanted, args.posts, analyzer),
                run_fts5(Path(scratch) / "fts5.db", analysed, wanted, args.posts, analyzer)]
        if args.osmem_posts:
            rows.append(run_elastic(analysed, wanted, args.osmem_posts, analyzer, args.url))
    print(f"{args.searches} searches ({', '.join(sorted({s.kind for s in wanted}))}; filters; both sorts), "
          f"20 results and the total each; osmem-server on {args.osmem_posts:,} posts only")
    print(table(rows, rows[0], rows[1]))


if __name__ == "__main__":
    main()
