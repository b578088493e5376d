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

from analysis.events import EventClusterer  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no topic set at {args.data}: it comes with ../shared")
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    analyzer = Analyzer()
    clusterer = EventClusterer() if args.threshold is None else EventClusterer(threshold=args.threshold)
    pairs = []
    for i, row in enumerate(rows):
        post = analyzer.analyse(Post(id=f"t:{i}", platform="weibo", source="topics", url=f"http://127.0.0.1/{i}",
                                     content=row["text"]))
        event = clusterer.assign(post, analyzer.keywords.weighted(post.tokens), post.dup_of)
        pairs.append((event.id if event else f"none:{i}", row["topic"]))
    sizes = Counter(c for c, _ in pairs)
    print(f"posts {len(rows)}, topics {len(set(t for _, t in pairs))}, events {len(sizes)} "
          f"(largest {sizes.most_common(1)[0][1]}, singletons {sum(1 for v in sizes.values() if v == 1)})")
    print(f"purity {purity(pairs):.3f}  NMI {nmi(pairs):.3f}")


if __name__ == "__main__":
    main()
