"""`reindex` time and peak memory: streaming in batches (the store's way) against loading every post at once.

    python benchmarks/reindex.py [--posts 200000] [--store DIR]

Builds a store of --posts posts shaped like real ones under DIR (a temporary folder unless given; an
existing store there is used as it is), then reindexes it twice, each time in a fresh process so that each
peak RSS is its own: first loading every stored post at once (the former way, kept here as the baseline),
then streaming in batches as `EmbeddedStore.reindex` does. Prints both, and their ratios.

Posts: two in three Weibo-length (30-140 characters), one in three a news article (400-2,500 characters
and a title); words drawn by their frequency in jieba's dictionary, so tokens, keywords and text sizes are
those of Chinese posts; 5-8 keywords, one of 300 sources, a sentiment, published over the last 30 days.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.grams import index_grams  # noqa: E402
from models import Author, Post, SchemeMatch, Sentiment, now  # noqa: E402
from store.embedded import EmbeddedStore  # noqa: E402

SOURCES = 300
LABELS = ["negative", "neutral", "positive"]


class Writer:
    """Synthetic posts with the shape of real ones (see the module's docstring)."""

    def __init__(self, seed: int = 7) -> None:
        import jieba

        rows = [line.split() for line in (Path(jieba.__file__).parent / "dict.txt").read_text("utf-8").splitlines()]
        rows = sorted((r for r in rows if len(r) >= 2 and not r[0].isascii()), key=lambda r: -int(r[1]))[:60_000]
        self.words = [r[0] for r in rows]
        self.rank = {word: i for i, word in enumerate(self.words)}
        self.cdf = np.cumsum(np.array([int(r[1]) for r in rows], dtype=float))
        self.cdf /= self.cdf[-1]
        self.rng = np.random.default_rng(seed)
        self.source_p = 1 / np.arange(1, SOURCES + 1)
        self.source_p /= self.source_p.sum()

    def _tokens(self, chars: int) -> list[str]:
        tokens: list[str] = []
        length = 0
        while length < chars:
            drawn = np.searchsorted(self.cdf, self.rng.random(max(8, (chars - length) // 2)))
            for i in np.minimum(drawn, len(self.words) - 1):
                tokens.append(self.words[i])
                length += len(self.words[i])
                if length >= chars:
                    break
        return tokens

    def post(self, n: int) -> Post:
        rng = self.rng
        article = rng.random() < 1 / 3
        tokens = self._tokens(int(rng.integers(400, 2500)) if article else int(rng.integers(30, 140)))
        title = self._tokens(int(rng.integers(12, 30))) if article else []
        # TF-IDF picks a post's rarer words.
        rarest = sorted({t for t in tokens if len(t) > 1}, key=self.rank.__getitem__, reverse=True)
        keywords = rarest[: int(rng.integers(5, 9))]
        label = LABELS[int(rng.integers(0, 3))]
        source = int(rng.choice(SOURCES, p=self.source_p))
        published = now() - timedelta(seconds=int(rng.integers(0, 30 * 86400)))
        return Post(
            id=f"{'news' if article else 'weibo'}:{n}", platform="news" if article else "weibo",
            source=f"source-{source}", url=f"https://example.com/{source}/{n}.html", title="".join(title),
            content="".join(tokens), author=Author(name=f"作者{n % 5000}", followers=int(rng.integers(0, 10**6))),
            published_at=published, crawled_at=published + timedelta(minutes=5), tokens=title + tokens,
            keywords=keywords, sentiment=Sentiment(label=label, score=float(rng.random())),  # type: ignore[arg-type]
            schemes=[SchemeMatch(name=f"scheme-{n % 3}", terms=keywords[:1])], simhash=f"{n:016x}",
        )


def build(folder: Path, posts: int, batch: int = 2000) -> None:
    writer = Writer()
    started = time.perf_counter()
    with EmbeddedStore(folder, grams=index_grams) as store:
        for first in range(0, posts, batch):
            store.upsert(writer.post(n) for n in range(first, min(first + batch, posts)))
            print(f"\rbuilding: {min(first + batch, posts)} posts", end="", file=sys.stderr, flush=True)
    size = (folder / "posts.db").stat().st_size
    print(f"\rbuilt {posts} posts in {time.perf_counter() - started:.0f} s; posts.db {size / 2**20:.0f} MB",
          file=sys.stderr)


def reindex_all_at_once(store: EmbeddedStore) -> int:
    """The former reindex, kept as the baseline: clear the index, read every stored post, index them all."""
    writer = store._get_writer()
    writer.delete_all_documents()
    writer.commit()
    seq = store._max_seq()
    rows = store._db.execute("SELECT doc FROM posts WHERE seq > 0 ORDER BY seq").fetchall()
    for (doc,) in rows:
        post = Post.model_validate_json(doc)
        writer.delete_documents_by_term("id", post.id)
        writer.add_document(store._document(post))
    store._commit(writer, seq)
    return len(rows)


def peak_rss_mb() -> float:
    """This process's peak RSS. Linux's VmHWM starts afresh at exec; ru_maxrss would carry the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(folder: Path, way: str) -> dict[str, float]:
    """One reindex in this process: seconds, peak RSS, and RSS before it began (imports, open store)."""
    started = time.perf_counter()
    store = EmbeddedStore(folder, grams=index_grams)
    opened = time.perf_counter() - started
    before = peak_rss_mb()
    started = time.perf_counter()
    count = reindex_all_at_once(store) if way == "all" else store.reindex()
    seconds = time.perf_counter() - started
    store.close()
    return {"posts": count, "seconds": seconds, "open_seconds": opened, "rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb()}


def run(folder: Path, way: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--measure", way, "--store", str(folder)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--store", type=Path, help="store folder (kept); built there when it holds no store")
    parser.add_argument("--measure", choices=["all", "stream"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.store, args.measure)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.store or Path(scratch) / "store"
        if not (folder / "posts.db").exists():
            build(folder, args.posts)
        baseline, streamed = run(folder, "all"), run(folder, "stream")
    print(f"store: {streamed['posts']} posts; opening it (with its checks) took {streamed['open_seconds']:.2f} s")
    for name, figures in (("all at once (former)", baseline), ("streamed (now)", streamed)):
        print(f"{name:22} {figures['seconds']:7.1f} s   peak RSS {figures['peak_rss_mb']:7.0f} MB "
              f"({figures['peak_rss_mb'] - figures['rss_before_mb']:+.0f} MB over the open store)")
    print(f"streamed / all at once: time {streamed['seconds'] / baseline['seconds']:.2f}x, "
          f"peak RSS {streamed['peak_rss_mb'] / baseline['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
