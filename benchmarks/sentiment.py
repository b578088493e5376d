"""Sentiment accuracy and speed on the held-out dev sets, against raw SnowNLP on the same rows.

    python benchmarks/sentiment.py [--data ../shared/data/sentiment/dev] [--shared ../shared] [--model DIR]

Binary accuracy: score >= 0.5 means positive; neutral rows are left out. 3-class: macro-F1 over
positive / neutral / negative (rows labelled other/surprise are left out everywhere).
Raw SnowNLP has no neutral class: for its 3-class figure, P(positive) < 0.35 is negative, > 0.65 positive.

The Weibo and review sets are scored as posts of text alone. The news sets (see benchmarks/news_dev.py)
are scored as the analysis stage scores a news post, headline and body apart: news_dev, 300 headlines and
passages of news pages; news_pages, the 20 saved news pages whole.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.pipeline import Analyzer  # noqa: E402
from analysis.sentiment import SentimentScorer  # noqa: E402
from analysis.sentiment_eval import THREE_CLASS as WEIBO_THREE_CLASS, binary_accuracy, macro_f1, read_sets  # noqa: E402
from analysis.tokens import Tokenizer  # noqa: E402
from benchmarks.news_dev import NEWS_DEV, NEWS_PAGES, Passage, load  # noqa: E402
from models import Post  # noqa: E402
from settings import Analysis  # noqa: E402

DEFAULT_SHARED = ROOT / ".." / "shared"
DEFAULT_DATA = DEFAULT_SHARED / "data" / "sentiment" / "dev"
THREE_CLASS = (*WEIBO_THREE_CLASS, "news_dev", "news_pages")


def raw_label(p: float) -> str:
    return "negative" if p < 0.35 else "positive" if p > 0.65 else "neutral"


def evaluate(name: str, rows: list[tuple[str, str]], ours: Callable[[], list[tuple[str, float]]],
             raw: Callable[[str], float]) -> dict:
    """`ours` gives the (label, score) of every row, in order; `raw` SnowNLP's P(positive) of a text."""
    started = time.perf_counter()
    predictions = ours()
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    raw_scores = [float(raw(text)) for text, _ in rows]
    raw_seconds = time.perf_counter() - started
    gold = [label for _, label in rows]
    result = {
        "set": name, "rows": len(rows), "polar_rows": sum(g != "neutral" for g in gold),
        "binary_ours": binary_accuracy(gold, [score for _, score in predictions]),
        "binary_snownlp": binary_accuracy(gold, raw_scores),
        "posts_per_s_ours": len(rows) / ours_seconds, "posts_per_s_snownlp": len(rows) / raw_seconds,
    }
    if name in THREE_CLASS:
        result["macro_f1_ours"] = macro_f1(gold, [label for label, _ in predictions])
        result["macro_f1_snownlp"] = macro_f1(gold, [raw_label(s) for s in raw_scores])
    return result


def text_alone(scorer: SentimentScorer, rows: list[tuple[str, str]]) -> Callable[[], list[tuple[str, float]]]:
    def predict() -> list[tuple[str, float]]:
        predictions = [scorer.predict(text) for text, _ in rows]
        return [(p.label, p.score) if p else ("neutral", 0.5) for p in predictions]
    return predict


def as_news_posts(analyzer: Analyzer, passages: list[Passage]) -> Callable[[], list[tuple[str, float]]]:
    def predict() -> list[tuple[str, float]]:
        posts = analyzer.analyse_many([Post(id=f"n{i}", platform="news", source="news", url=f"http://127.0.0.1/{i}",
                                            title=p.title, content=p.body) for i, p in enumerate(passages)])
        return [(p.sentiment.label, p.sentiment.score) if p.sentiment else ("neutral", 0.5) for p in posts]
    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the folder the news sets' texts are read from (data/topics, fixtures/pages/news)")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no dev sets at {args.data}: they come with ../shared (see shared/data/README.md)")
    from snownlp import sentiment as snownlp_sentiment

    ours = SentimentScorer(Tokenizer(), args.model)
    results = []
    for name, rows in read_sets(args.data).items():
        results.append(evaluate(name, rows, text_alone(ours, rows), snownlp_sentiment.classify))
    if not args.shared.is_dir():
        print(f"news sets skipped: no {args.shared} to read their texts from (it comes beside the project)")
    else:
        analyzer = Analyzer(models=Analysis(sentiment_model=args.model))
        for rows_file in (NEWS_DEV, NEWS_PAGES):
            passages, problems = load(rows_file, args.shared)
            for problem in problems:
                print(f"{rows_file.name}: left out: {problem}")
            rows = [(p.text, p.label) for p in passages]
            results.append(evaluate(rows_file.stem, rows, as_news_posts(analyzer, passages), snownlp_sentiment.classify))

    print(f"{'dev set':<22}{'rows':>6}  {'binary acc (ours / SnowNLP)':>28}  {'3-class macro-F1 (ours / SnowNLP)':>34}"
          f"  {'posts/s (ours / SnowNLP)':>26}")
    for r in results:
        f1 = (f"{r['macro_f1_ours']:.3f} / {r['macro_f1_snownlp']:.3f}" if "macro_f1_ours" in r else "—")
        print(f"{r['set']:<22}{r['rows']:>6}  {r['binary_ours']:>16.3f} / {r['binary_snownlp']:.3f}  {f1:>34}"
              f"  {r['posts_per_s_ours']:>14.0f} / {r['posts_per_s_snownlp']:.0f}")
    dev = [r for r in results if not r["set"].startswith("news_")]  # the mean stays that of the three dev sets
    mean = sum(r["binary_ours"] for r in dev) / len(dev)
    mean_raw = sum(r["binary_snownlp"] for r in dev) / len(dev)
    print(f"{'mean binary (dev sets)':<22}{'':>6}  {mean:>16.3f} / {mean_raw:.3f}")
    print(json.dumps({"mean_binary_ours": round(mean, 4), "mean_binary_snownlp": round(mean_raw, 4),
                      "sets": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                               for r in results]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
