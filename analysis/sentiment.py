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
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from analysis.idf import read_jsonl
from analysis.normalize import normalize, to_simplified
from analysis.segments import Segment, segment
from analysis.snownlp_parts import Bayes
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


@dataclass(frozen=True)
class Features:
    """What both models read from one post."""

    words: list[str]  # words (negation marked) and emoticons: the Bayes model reads these
    extra: list[str]  # word pairs and character pairs: the logistic regression reads these as well

    def __iter__(self) -> Iterator[str]:
        return chain(self.words, self.extra)

    def __len__(self) -> int:
        return len(self.words) + len(self.extra)


class Featurizer:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Features:
        return self.from_segments(segment(to_simplified(normalize(text)[:MAX_CHARS]), self.tokenizer))

    @staticmethod
    def from_segments(segments: Sequence[Segment]) -> Features:
        words: list[str] = []
        extra: list[str] = []
        for seg in segments:
            seg_words, seg_extra = _segment_features(seg)
            if seg.repost:
                seg_words = ["转:" + f for f in seg_words]
                seg_extra = ["转:" + f for f in seg_extra]
            words += seg_words
            extra += seg_extra
        return Features(words, extra)


def _segment_features(seg: Segment) -> tuple[list[str], list[str]]:
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
        out.append("¬" + word if negate else word)
    pairs = [f"{a}_{b}" for a, b in zip(out, out[1:])]
    chars = "".join(seg.text.split())
    char_pairs = ["字" + chars[i:i + 2] for i in range(len(chars) - 1)]
    return out + seg.emoticons, pairs + char_pairs


@dataclass
class Prediction:
    probs: dict[str, float]  # three classes, summing to 1
    score: float  # P(positive | positive or negative)

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


class _NaiveBayes(Bayes):
    """SnowNLP's classifier, asked for every class's log-probability instead of only the winner's."""

    def log_probabilities(self) -> tuple[list[float], list[float], dict[str, tuple[float, float, float]]]:
        """Class priors, the log-probability of an unseen word, and of every seen word: the same numbers
        as SnowNLP's own `classify`, computed once instead of a method call per word and class."""
        classes = [self.d[label] for label in LABELS]
        prior = [math.log(c.getsum()) - math.log(self.total) for c in classes]
        unknown = [math.log(c.none / c.getsum()) for c in classes]
        words = set().union(*(c.d for c in classes))
        table = {w: tuple(math.log(c.d.get(w, c.none) / c.getsum()) for c in classes) for w in words}
        return prior, unknown, table  # type: ignore[return-value]


class SentimentModel:
    """A trained model: SnowNLP Bayes + logistic regression, with their blend and calibration.

    Both models are read through one table, so that a post costs one dictionary look-up per feature: a
    feature's row holds its IDF and logistic-regression coefficients, and for words the Bayes
    log-probabilities (words the logistic regression dropped as rare get a row with IDF 0).
    """

    def __init__(self, folder: Path) -> None:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        nb = _NaiveBayes()
        nb.load(str(folder / "bayes.marshal"))
        prior, unknown, table = nb.log_probabilities()
        with gzip.open(folder / "logreg.json.gz", "rt", encoding="utf-8") as handle:
            lr = json.load(handle)
        self.index = {f: i for i, f in enumerate(lr["features"])}
        for word in table:
            self.index.setdefault(word, len(self.index))
        rows = len(self.index)
        self.idf = np.zeros(rows)
        self.idf[: len(lr["idf"])] = lr["idf"]
        self.coef = np.zeros((rows, 3))  # features × classes
        self.coef[: len(lr["coef"])] = lr["coef"]
        self.intercept = np.asarray(lr["intercept"], dtype=np.float64)
        self.nb_prior = np.asarray(prior)
        self.nb_unknown = np.asarray(unknown)
        self.nb_table = np.tile(self.nb_unknown, (rows, 1))
        for word, values in table.items():
            self.nb_table[self.index[word]] = values
        self.nb_weight = float(meta["nb_weight"])
        self.temperature = float(meta["temperature"])

    def scores(self, features: Features) -> tuple[np.ndarray, np.ndarray]:
        """The class scores of the logistic regression and of Bayes, before they are blended."""
        get = self.index.get
        word_rows = [r for r in map(get, features.words) if r is not None]
        rows = word_rows + [r for r in map(get, features.extra) if r is not None]

        nb = self.nb_prior + self.nb_table.take(word_rows, axis=0).sum(axis=0)
        nb += (len(features.words) - len(word_rows)) * self.nb_unknown
        nb /= max(1.0, len(features.words)) ** 0.5  # Bayes adds a term a word: damp its overconfidence

        lr = self.intercept
        if rows:
            counts = Counter(rows)
            unique = np.fromiter(counts, dtype=np.int64, count=len(counts))
            weights = self.idf.take(unique)
            if len(counts) < len(rows):  # a feature seen n times weighs 1 + ln n (sublinear TF)
                weights *= 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
            norm = np.sqrt(weights @ weights)
            if norm > 0:
                lr = weights @ self.coef.take(unique, axis=0) / norm + self.intercept
        return lr, nb

    def predict(self, features: Features) -> Prediction:
        lr, nb = self.scores(features)
        probs = [math.exp(v) for v in blend(lr.tolist(), nb.tolist(), self.nb_weight, self.temperature)]
        return Prediction(dict(zip(LABELS, probs)), probs[2] / (probs[2] + probs[0]))


def blend(lr: Sequence[float], nb: Sequence[float], nb_weight: float, temperature: float) -> list[float]:
    """Log-probabilities of the three classes from both models' scores. Plain floats: for three numbers
    a post, numpy's per-call cost is most of the work."""
    lr, nb = _log_softmax(lr), _log_softmax(nb)
    return _log_softmax([((1 - nb_weight) * a + nb_weight * b) / temperature for a, b in zip(lr, nb)])


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

    def predict_features(self, features: Features) -> Prediction | None:
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
    for row in read_jsonl(paths):
        label = row_label(row)
        if label and str(row.get("text", "")).strip():
            rows.append((str(row["text"]), label))
    return rows
