"""Event clustering quality on labelled Weibo topics: purity and NMI.

    python benchmarks/events.py [--data ../shared/data/topics/weibo2018_topics.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.pipeline import Analyzer  # noqa: E402
from models import Post  # noqa: E402

DEFAULT = ROOT / ".." / "shared" / "data" / "topics" / "weibo2018_topics.jsonl"


def purity(pairs: list[tuple[str, str]]) -> float:
    by_cluster: dict[str, Counter[str]] = {}
    for cluster, topic in pairs:
        by_cluster.setdefault(cluster, Counter())[topic] += 1
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / len(pairs)


def nmi(pairs: list[tuple[str, str]]) -> float:
    n = len(pairs)
    clusters, topics, joint = Counter(c for c, _ in pairs), Counter(t for _, t in pairs), Counter(pairs)
    mutual = sum(v / n * math.log(n * v / (clusters[c] * topics[t])) for (c, t), v in joint.items())
    entropy = lambda counts: -sum(v / n * math.log(v / n) for v in counts.values())  # noqa: E731
    return 2 * mutual / (entropy(clusters) + entropy(topics))


def clustered(data: Path, threshold: float | None = None) -> list[tuple[str, str]]:
    """(event id, labelled topic) of every post, the posts analysed in order as ingest analyses them."""
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    analyzer = Analyzer()
    if threshold is not None:
        analyzer.events.threshold = threshold
    posts = analyzer.analyse_many([Post(id=f"t:{i}", platform="weibo", source="topics", url=f"http://127.0.0.1/{i}",
                                        content=row["text"]) for i, row in enumerate(rows)])
    return [(post.event_id or f"none:{i}", row["topic"]) for i, (post, row) in enumerate(zip(posts, rows))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no topic set at {args.data}: it comes with ../shared")
    pairs = clustered(args.data, args.threshold)
    sizes = Counter(c for c, _ in pairs)
    print(f"posts {len(pairs)}, topics {len(set(t for _, t in pairs))}, events {len(sizes)} "
          f"(largest {sizes.most_common(1)[0][1]}, singletons {sum(1 for v in sizes.values() if v == 1)})")
    print(f"purity {purity(pairs):.3f}  NMI {nmi(pairs):.3f}")


if __name__ == "__main__":
    main()
