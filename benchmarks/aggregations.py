"""The dashboard's top keywords (20) and sources (10) on a large store: the time they take with exact counts,
and what tantivy's per-segment cut-off (the former way) got wrong on the same store.

    python benchmarks/aggregations.py [--posts 100000] [--store DIR]

The store is built as benchmarks/reindex.py builds it (posts over the last 30 days), written in batches of
500 so that the index keeps many segments, as a store fed by many small ingests does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.reindex import build  # noqa: E402
from models import now  # noqa: E402
from store.base import SearchQuery  # noqa: E402
from store.embedded import EmbeddedStore  # noqa: E402

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def timed(call: Callable[[], list[tuple[str, int]]]) -> tuple[float, list[tuple[str, int]]]:
    times, result = [], []
    for _ in range(5):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


def cut(store: EmbeddedStore, query: SearchQuery, field: str, size: int) -> list[tuple[str, int]]:
    """The former aggregation: tantivy's default per-segment list (10 × size)."""
    with store._searching() as searcher:
        result = searcher.aggregate(store._query(query), {"t": {"terms": {"field": field, "size": size}}})
    return [(b["key"], b["doc_count"]) for b in result["t"]["buckets"]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="store folder (kept); built there when it holds no store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.store or Path(scratch) / "store"
        if not (folder / "posts.db").exists():
            build(folder, args.posts, batch=500)
        with EmbeddedStore(folder, readonly=True) as store:
            with store._searching() as searcher:
                print(f"{searcher.num_docs} posts in {searcher.num_segments} index segments")
            at = now()
            for name, span in RANGES.items():
                window = SearchQuery(since=at - span, until=at)
                for label, field, size, exact in (("keywords", "keyword", 20, store.top_keywords),
                                                  ("sources", "source", 10, store.by_source)):
                    ms, right = timed(lambda: exact(window, size))  # noqa: B023
                    former_ms, former = timed(lambda: cut(store, window, field, size))  # noqa: B023
                    every = dict(exact(window, 10**6))
                    low = [every[key] - count for key, count in former if every[key] != count]
                    # Missing: a term of the true top list above one the former list showed instead (ties aside).
                    floor = min((every[key] for key, _ in former), default=0)
                    missing = [key for key, count in right if key not in dict(former) and count > floor]
                    print(f"{name:>3} top {size} {label:8}: exact {ms:6.1f} ms (former {former_ms:6.1f} ms: "
                          f"{len(low)} counts low, by up to {max(low, default=0)}; "
                          f"{len(missing)} missing)")


if __name__ == "__main__":
    main()
