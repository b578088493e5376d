"""Sentiment accuracy and speed on the held-out dev sets, against raw SnowNLP on the same rows.

    python benchmarks/sentiment.py [--data ../shared/data/sentiment/dev] [--model DIR]

Binary accuracy: score >= 0.5 means positive; neutral rows are left out. 3-class: macro-F1 over
positive / neutral / negative (rows labelled other/surprise are left out everywhere).
Raw SnowNLP has no neutral class: for its 3-class figure, P(positive) < 0.35 is negative, > 0.65 positive.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.sentiment import SentimentScorer  # noqa: E402
from analysis.sentiment_eval import THREE_CLASS, binary_accuracy, figures, macro_f1, read_sets  # noqa: E402
from analysis.tokens import Tokenizer  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "sentiment" / "dev"


def raw_label(p: float) -> str:
    return "negative" if p < 0.35 else "positive" if p > 0.65 else "neutral"


def evaluate(name: str, rows: list[tuple[str, str]], ours: SentimentScorer, raw) -> dict:  # noqa: ANN001
    started = time.perf_counter()
    predictions = [ours.predict(text) for text, _ in rows]
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    raw_scores = [float(raw(text)) for text, _ in rows]
    raw_seconds = time.perf_counter() - started
    gold = [label for _, label in rows]
    ours_figures = figures(name, gold, predictions)
    result = {
        "set": name, "rows": len(rows), "polar_rows": ours_figures["polar_rows"],
        "binary_ours": ours_figures["binary"], "binary_snownlp": binary_accuracy(gold, raw_scores),
        "posts_per_s_ours": len(rows) / ours_seconds, "posts_per_s_snownlp": len(rows) / raw_seconds,
    }
    if name in THREE_CLASS:
        result["macro_f1_ours"] = ours_figures["macro_f1"]
        result["macro_f1_snownlp"] = macro_f1(gold, [raw_label(s) for s in raw_scores])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no dev sets at {args.data}: they come with ../shared (see shared/data/README.md)")
    from snownlp import sentiment as snownlp_sentiment

    ours = SentimentScorer(Tokenizer(), args.model)
    results = [evaluate(name, rows, ours, snownlp_sentiment.classify) for name, rows in read_sets(args.data).items()]

    print(f"{'dev set':<22}{'rows':>6}  {'binary acc (ours / SnowNLP)':>28}  {'3-class macro-F1 (ours / SnowNLP)':>34}"
          f"  {'posts/s (ours / SnowNLP)':>26}")
    for r in results:
        f1 = (f"{r['macro_f1_ours']:.3f} / {r['macro_f1_snownlp']:.3f}" if "macro_f1_ours" in r else "—")
        print(f"{r['set']:<22}{r['rows']:>6}  {r['binary_ours']:>16.3f} / {r['binary_snownlp']:.3f}  {f1:>34}"
              f"  {r['posts_per_s_ours']:>14.0f} / {r['posts_per_s_snownlp']:.0f}")
    mean = sum(r["binary_ours"] for r in results) / len(results)
    mean_raw = sum(r["binary_snownlp"] for r in results) / len(results)
    print(f"{'mean binary accuracy':<22}{'':>6}  {mean:>16.3f} / {mean_raw:.3f}")
    print(json.dumps({"mean_binary_ours": round(mean, 4), "mean_binary_snownlp": round(mean_raw, 4),
                      "sets": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                               for r in results]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
