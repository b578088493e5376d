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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from snownlp.classification.bayes import Bayes

from analysis.normalize import normalize
from analysis.tokens import Tokenizer
from yuqing.models import Sentiment

LABELS = ("negative", "neutral", "positive")
MAX_CHARS = 2000  # the head of a long article says how it leans; the rest only costs time
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_REPOST = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_MENTION = re.compile(r"@[^\s:：,，。!！?？@]{1,30}")
_URL = re.compile(r"https?://\S+")
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
        text = normalize(text)[:MAX_CHARS]
        own, *chain = _REPOST.split(text)
        features: list[str] = []
        for part, prefix in [(own, "")] + [(c, "转:") for c in chain]:
            features += [prefix + f for f in self._part(part)]
        return features

    def _part(self, text: str) -> list[str]:
        emoticons = _EMOTICON.findall(text)
        text = _URL.sub(" ", _MENTION.sub(" ", _EMOTICON.sub(" ", text)))
        words = self.tokenizer.cut(text)
        out: list[str] = []
        negate = False
        for word in words:
            if word in _CLAUSE_END or not word.strip():
                negate = False
                continue
            if word in _NEGATORS:
                negate = True
                out.append(word)
                continue
            out.append(f"¬{word}" if negate else word)
        pairs = [f"{a}_{b}" for a, b in zip(out, out[1:])]
        chars = re.sub(r"\s+", "", text)
        char_pairs = [f"字{a}{b}" for a, b in zip(chars, chars[1:])]
        return out + pairs + char_pairs + emoticons


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
    """SnowNLP's classifier, asked for every class's log-probability instead of only the winner's."""

    def log_scores(self, features: Sequence[str]) -> np.ndarray:
        words = word_features(features)
        out = np.empty(len(LABELS))
        for i, label in enumerate(LABELS):
            prob = self.d[label]
            score = math.log(prob.getsum()) - math.log(self.total)
            for word in words:
                score += math.log(prob.freq(word))
            # Bayes adds one log term a word and grows overconfident on long posts; damp it.
            out[i] = score / max(1.0, len(words)) ** 0.5
        return out


class SentimentModel:
    """A trained model: SnowNLP Bayes + logistic regression, with their blend and calibration."""

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.nb = _NaiveBayes()
        self.nb.load(str(folder / "bayes.marshal"))
        with gzip.open(folder / "logreg.json.gz", "rt", encoding="utf-8") as handle:
            lr = json.load(handle)
        self.index = {f: i for i, f in enumerate(lr["features"])}
        self.idf = np.asarray(lr["idf"], dtype=np.float32)
        self.coef = np.asarray(lr["coef"], dtype=np.float32)  # features × classes
        self.intercept = np.asarray(lr["intercept"], dtype=np.float32)
        self.nb_weight = float(meta["nb_weight"])
        self.temperature = float(meta["temperature"])

    def lr_logits(self, features: Sequence[str]) -> np.ndarray:
        counts = Counter(self.index[f] for f in features if f in self.index)
        if not counts:
            return self.intercept.astype(np.float64)
        rows = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        weights = tf * self.idf[rows]
        weights /= np.linalg.norm(weights)
        return (weights @ self.coef[rows] + self.intercept).astype(np.float64)

    def predict(self, features: Sequence[str]) -> Prediction:
        lr = _log_softmax(self.lr_logits(features))
        nb = _log_softmax(self.nb.log_scores(features))
        logits = ((1 - self.nb_weight) * lr + self.nb_weight * nb) / self.temperature
        probs = np.exp(_log_softmax(logits))
        neg, pos = probs[0], probs[2]
        return Prediction(dict(zip(LABELS, probs.tolist())), float(pos / (pos + neg)))


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - math.log(float(np.exp(x).sum()))


def default_model_dir() -> Path:
    return Path(str(resources.files("analysis").joinpath("models", "sentiment")))


class SentimentScorer:
    """What the pipeline calls: text in, Sentiment out."""

    def __init__(self, tokenizer: Tokenizer, model_dir: Path | None = None) -> None:
        self.features = Featurizer(tokenizer)
        self.model = SentimentModel(model_dir or default_model_dir())

    def predict(self, text: str) -> Prediction | None:
        features = self.features(text)
        return self.model.predict(features) if features else None

    def score(self, text: str) -> Sentiment | None:
        prediction = self.predict(text)
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
