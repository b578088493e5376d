"""How a sentiment model does on labelled rows: the figures `benchmarks/sentiment.py` prints and
`yuqing train-sentiment --with-corrections` reports before and after a retrain.

Binary accuracy: score >= 0.5 means positive; neutral rows are left out. 3-class: macro-F1 over
positive / neutral / negative, on the sets labelled with all three (rows labelled other/surprise are
left out everywhere).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analysis.sentiment import LABELS, Prediction, row_label

THREE_CLASS = ("smp2020_usual_eval", "smp2020_virus_eval")  # the dev sets whose neutral rows are labelled as such

Rows = list[tuple[str, str]]


def read_sets(folder: Path) -> dict[str, Rows]:
    """(text, label) rows of each JSONL file in `folder` (or of the one file given), by file name."""
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else [folder]
    sets: dict[str, Rows] = {}
    for file in files:
        rows = []
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip() and (label := row_label(row := json.loads(line))) is not None:
                rows.append((str(row["text"]), label))
        sets[file.stem] = rows
    return sets


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    scores = []
    for label in LABELS:
        tp = sum(g == p == label for g, p in zip(gold, pred))
        fp = sum(p == label != g for g, p in zip(gold, pred))
        fn = sum(g == label != p for g, p in zip(gold, pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def binary_accuracy(gold: Sequence[str], scores: Sequence[float]) -> float:
    polar = [(g, s) for g, s in zip(gold, scores) if g != "neutral"]
    return sum((s >= 0.5) == (g == "positive") for g, s in polar) / len(polar) if polar else 0.0


def figures(name: str, gold: Sequence[str], predictions: Sequence[Prediction | None]) -> dict[str, Any]:
    """A dev set's figures for one model's predictions: binary accuracy, and macro-F1 on a 3-class set."""
    result: dict[str, Any] = {
        "set": name, "rows": len(gold), "polar_rows": sum(g != "neutral" for g in gold),
        "binary": binary_accuracy(gold, [p.score if p else 0.5 for p in predictions])}
    if name in THREE_CLASS:
        result["macro_f1"] = macro_f1(gold, [p.label if p else "neutral" for p in predictions])
    return result
