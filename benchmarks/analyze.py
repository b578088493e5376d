"""Throughput and peak memory of `yuqing analyze` over 100k posts, against raw SnowNLP in the same run.

    python benchmarks/analyze.py [--posts 100000] [--snownlp-sample 2000]

Posts are the texts of ../shared/data/sentiment (train and dev), repeated to reach --posts. The whole
step runs as a user runs it (a `yuqing analyze` process, one core), start-up included; the figure
without start-up comes from the same run, timed to its first output line.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / ".." / "shared" / "data" / "sentiment"


def texts() -> list[str]:
    out = []
    for file in sorted(DATA.glob("*/*.jsonl")):
        out += [json.loads(line)["text"] for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--snownlp-sample", type=int, default=2000)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no corpora at {DATA}: they come with ../shared")
    posts = list(islice(cycle(texts()), args.posts))
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "posts.jsonl"
        with source.open("w", encoding="utf-8") as out:
            for i, text in enumerate(posts):
                out.write(json.dumps({"id": f"p{i}", "text": text}, ensure_ascii=False) + "\n")
        command = [sys.executable, "-m", "yuqing.cli", "analyze", "--in", str(source), "--out", "-"]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        assert process.stdout is not None
        first = None
        count = 0
        for _ in process.stdout:
            if first is None:
                first = time.perf_counter()
            count += 1
        process.wait()
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if process.returncode != 0 or count != args.posts:
        sys.exit(f"yuqing analyze failed (exit {process.returncode}, {count} of {args.posts} posts)")
    steady = count / (wall - (first - started)) if first else 0.0

    # Nothing is loaded here before the `yuqing analyze` child has run, so that its peak memory is its own
    # (a forked child starts with its parent's pages). SnowNLP comes before the analysis modules: they
    # register the snownlp package without its __init__, which is where SnowNLP is.
    from snownlp import SnowNLP

    # A random sample of the same posts: SnowNLP's speed depends on length, so no corner of the corpus.
    sample = random.Random(7).sample(posts, min(args.snownlp_sample, len(posts)))
    started = time.perf_counter()
    for text in sample:
        SnowNLP(text).sentiments  # noqa: B018 - the work being timed
    snownlp_rate = len(sample) / (time.perf_counter() - started)

    from analysis.dedup import NearDuplicateIndex, SimHasher
    from analysis.stream import BATCH

    started = time.perf_counter()
    hasher, index = SimHasher(), NearDuplicateIndex()
    duplicates = 0
    for first in range(0, len(posts), BATCH):  # fingerprinted in the batches `yuqing analyze` uses
        for i, fingerprint in enumerate(hasher.fingerprints(posts[first:first + BATCH]), first):
            duplicates += fingerprint is not None and index.check_and_add(fingerprint, f"p{i}") is not None
    dedup_seconds = time.perf_counter() - started

    rate = count / wall
    print(f"yuqing analyze: {count} posts in {wall:.1f} s = {rate:.0f} posts/s with start-up, "
          f"{steady:.0f} posts/s without; peak memory {peak_mb:.0f} MB")
    print(f"near-duplicates alone (SimHash + banded index): {len(posts)} posts in {dedup_seconds:.1f} s, "
          f"{duplicates} found")
    print(f"raw SnowNLP sentiment alone: {snownlp_rate:.0f} posts/s on {len(sample)} of the same posts")
    print(f"ratio (whole step, with start-up / raw SnowNLP): {rate / snownlp_rate:.1f}x")
    print(json.dumps({"posts": count, "seconds": round(wall, 2), "posts_per_s": round(rate),
                      "posts_per_s_steady": round(steady), "peak_mb": round(peak_mb),
                      "dedup_seconds": round(dedup_seconds, 2), "snownlp_posts_per_s": round(snownlp_rate), "ratio": round(rate / snownlp_rate, 1)}))


if __name__ == "__main__":
    main()
