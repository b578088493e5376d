"""Three-class sentiment (positive / neutral / negative) for Chinese social-media posts.

Two models read the same features and vote:
- SnowNLP's naive Bayes classifier, retrained in-domain on jieba tokens (not its own slow segmenter);
- a logistic regression over TF-IDF weighted words, word pairs and character pairs.
Features add what Weibo posts carry: emoticons such as [怒] kept whole, negation marked on the word it
negates (不/没/别…), and the repost chain (//@someone: …) read apart from the poster's own words.

`score` is P(positive) against negative, calibrated; `label` is the most likely of the three classes.
`yuqing train-sentiment` builds a model from JSONL rows of `text` + `label`.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from analysis.snownlp_parts import Bayes

from analysis.normalize import normalize, to_simplified
from analysis.segments import Segment, segment
from analysis.tokens import Tokenizer
from yuqing.models import Sentiment

LABELS = ("negative", "neutral", "positive")
MAX_CHARS = 2000  # the head of a long article says how it leans; the rest only costs time
_NEGATORS = frozenset("不 没 没有 别 未 无 非 毫无 并非 不是 不会 不能 不要 没什么".split())
_CLAUSE_END = frozenset("，。！？；,.!?;~… \n")
# SMP2020-EWECT emotion names, and its numeric codes (angry, fear, happy, neutral, sad, surprise).
EMOTIONS = {"happy": "positive", "like": "positive", "happiness": "positive", "angry": "negative",
            "anger": "negative", "sad": "negative", "sadness": "negative", "fear": "negative",
            "disgust": "negative", "neutral": "neutral",
            0: "negative", 1: "negative", 2: "positive", 3: "neutral", 4: "negative"}


def row_label(row: dict[str, Any]) -> str | None:
    """The polarity of a training row; None for rows that have none (surprise, other)."""
    label = row.get("label")
    if label in LABELS:
        return label
    return EMOTIONS.get(row.get("emotion"))  # type: ignore[arg-type]


class Featurizer:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> list[str]:
        return self.from_segments(segment(to_simplified(normalize(text)[:MAX_CHARS]), self.tokenizer))

    @staticmethod
    def from_segments(segments: Sequence[Segment]) -> list[str]:
        features: list[str] = []
        for seg in segments:
            prefix = "转:" if seg.repost else ""
            features += [prefix + f for f in _segment_features(seg)]
        return features


def _segment_features(seg: Segment) -> list[str]:
    out: list[str] = []
    negate = False
    for word in seg.words:
        if word in _CLAUSE_END or not word.strip():
            negate = False
            continue
        if word in _NEGATORS:
            negate = True
            out.append(word)
            continue
        out.append(f"¬{word}" if negate else word)
    pairs = [f"{a}_{b}" for a, b in zip(out, out[1:])]
    chars = "".join(seg.text.split())
    char_pairs = [f"字{a}{b}" for a, b in zip(chars, chars[1:])]
    return out + pairs + char_pairs + seg.emoticons


@dataclass
class Prediction:
    probs: dict[str, float]  # three classes, summing to 1
    score: float  # P(positive | positive or negative)

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


def word_features(features: Sequence[str]) -> list[str]:
    """What the Bayes model reads: words, negated words and emoticons (pairs would bloat it)."""
    return [f for f in features if "_" not in f and not f.startswith("字")]


class _NaiveBayes(Bayes):
    """SnowNLP's classifier, asked for every class's log-probability instead of only the winner's.

    Scoring reads a table of log-probabilities built once from SnowNLP's counts: the same numbers as
    its own `classify`, without a method call per word and class.
    """

    def prepare(self) -> None:
        classes = [self.d[label] for label in LABELS]
        self.prior = [math.log(c.getsum()) - math.log(self.total) for c in classes]
        self.unknown = tuple(math.log(c.none / c.getsum()) for c in classes)
        words = set().union(*(c.d for c in classes))
        self.table = {w: tuple(math.log(c.d.get(w, c.none) / c.getsum()) for c in classes) for w in words}

    def log_scores(self, features: Sequence[str]) -> list[float]:
        words = word_features(features)
        out = list(self.prior)
        table, unknown = self.table, self.unknown
        for word in words:
            a, b, c = table.get(word, unknown)
            out[0] += a
            out[1] += b
            out[2] += c
        # Bayes adds one log term a word and grows overconfident on long posts; damp it.
        damp = max(1.0, len(words)) ** 0.5
        return [v / damp for v in out]


class SentimentModel:
    """A trained model: SnowNLP Bayes + logistic regression, with their blend and calibration."""

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.nb = _NaiveBayes()
        self.nb.load(str(folder / "bayes.marshal"))
        self.nb.prepare()
        with gzip.open(folder / "logreg.json.gz", "rt", encoding="utf-8") as handle:
            lr = json.load(handle)
        self.index = {f: i for i, f in enumerate(lr["features"])}
        self.idf = np.asarray(lr["idf"], dtype=np.float32)
        self.coef = np.asarray(lr["coef"], dtype=np.float32)  # features × classes
        self.intercept = np.asarray(lr["intercept"], dtype=np.float32)
        self.nb_weight = float(meta["nb_weight"])
        self.temperature = float(meta["temperature"])

    def lr_logits(self, features: Sequence[str]) -> np.ndarray:
        counts: dict[int, int] = {}
        index = self.index
        for feature in features:
            row = index.get(feature)
            if row is not None:
                counts[row] = counts.get(row, 0) + 1
        if not counts:
            return self.intercept.astype(np.float64)
        rows = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        weights = tf * self.idf[rows]
        weights /= np.linalg.norm(weights)
        return (weights @ self.coef[rows] + self.intercept).astype(np.float64)

    def predict(self, features: Sequence[str]) -> Prediction:
        lr = _log_softmax(self.lr_logits(features).tolist())
        nb = _log_softmax(self.nb.log_scores(features))
        w, t = self.nb_weight, self.temperature
        probs = [math.exp(v) for v in _log_softmax([((1 - w) * a + w * b) / t for a, b in zip(lr, nb)])]
        neg, pos = probs[0], probs[2]
        return Prediction(dict(zip(LABELS, probs)), pos / (pos + neg))


def _log_softmax(x: Sequence[float]) -> list[float]:
    top = max(x)
    total = math.log(sum(math.exp(v - top) for v in x))
    return [v - top - total for v in x]


def default_model_dir() -> Path:
    return Path(str(resources.files("analysis").joinpath("models", "sentiment")))


class SentimentScorer:
    """What the pipeline calls: text in, Sentiment out."""

    def __init__(self, tokenizer: Tokenizer, model_dir: Path | None = None) -> None:
        self.features = Featurizer(tokenizer)
        self.model = SentimentModel(model_dir or default_model_dir())

    def predict(self, text: str) -> Prediction | None:
        return self.predict_features(self.features(text))

    def predict_features(self, features: list[str]) -> Prediction | None:
        return self.model.predict(features) if features else None

    def score(self, text: str) -> Sentiment | None:
        return self.sentiment(self.predict(text))

    @staticmethod
    def sentiment(prediction: Prediction | None) -> Sentiment | None:
        if prediction is None:
            return None
        return Sentiment(label=prediction.label, score=round(prediction.score, 4))  # type: ignore[arg-type]


def read_rows(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """(text, label) from JSONL files or folders of them; rows without a polarity are left out."""
    rows: list[tuple[str, str]] = []
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{file}:{number}: not JSON ({exc})") from None
                label = row_label(row)
                if label and str(row.get("text", "")).strip():
                    rows.append((row["text"], label))
    return rows
