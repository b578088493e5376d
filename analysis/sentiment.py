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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from analysis.idf import read_jsonl
from analysis.normalize import normalize, to_simplified
from analysis.segments import Segment, segment
from analysis.snownlp_parts import AddOneProb, Bayes
from analysis.tokens import Tokenizer
from models import Sentiment

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
class Part:
    """What the models read from one segment of a post (its own words, or one link of the repost chain)."""

    repost: bool
    words: list[str]  # jieba words, negation marked (¬喜欢), punctuation left out
    emoticons: list[str]
    chars: str  # the segment's text without spaces, for character pairs

    @classmethod
    def of(cls, seg: Segment) -> Part:
        words: list[str] = []
        negate = False
        for word in seg.words:
            if word in _CLAUSE_END or not word.strip():
                negate = False
            elif word in _NEGATORS:
                negate = True
                words.append(word)
            else:
                words.append("¬" + word if negate else word)
        return cls(seg.repost, words, seg.emoticons, "".join(seg.text.split()))


@dataclass(frozen=True)
class Features:
    """What both models read from one post: its parts. As strings, for training, it is
    - `words`: words and emoticons, which the Bayes model reads;
    - `extra`: word pairs (a_b) and character pairs (字ab), which the logistic regression reads as well;
    with 转: before every feature of the repost chain. The scorer reads the same features as numbers."""

    parts: list[Part]

    @property
    def words(self) -> list[str]:
        return [_prefix(p) + w for p in self.parts for w in chain(p.words, p.emoticons)]

    @property
    def extra(self) -> list[str]:
        out = []
        for p in self.parts:
            prefix = _prefix(p)
            out += [f"{prefix}{a}_{b}" for a, b in zip(p.words, p.words[1:])]
            out += [f"{prefix}字{p.chars[i:i + 2]}" for i in range(len(p.chars) - 1)]
        return out

    def __iter__(self) -> Iterator[str]:
        return chain(self.words, self.extra)

    def __bool__(self) -> bool:
        """Whether there is anything for the models to read (not so for a post of only mentions and links)."""
        return any(p.words or p.emoticons or len(p.chars) > 1 for p in self.parts)


def _prefix(part: Part) -> str:
    return "转:" if part.repost else ""


class Featurizer:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Features:
        return self.from_segments(segment(to_simplified(normalize(text)[:MAX_CHARS]), self.tokenizer))

    @staticmethod
    def from_segments(segments: Sequence[Segment]) -> Features:
        return Features([Part.of(seg) for seg in segments])


# Word pairs and character pairs are looked up as 64-bit keys in one sorted array, with no string built:
# bit 63 tells a character pair from a word pair, bit 62 marks the repost chain, and the rest holds the two
# code points (21 bits each) or the two words' rows (31 bits each).
_CHAR_PAIR_INT = 1 << 63
_CHAR_PAIR = np.uint64(_CHAR_PAIR_INT)
_REPOST_BIT_INT = 1 << 62
_REPOST_BIT = np.uint64(_REPOST_BIT_INT)
_NO_WORD = (1 << 31) - 1  # the id of a word that is in no feature: its pairs' keys match nothing


@dataclass
class Prediction:
    probs: dict[str, float]  # three classes, summing to 1
    score: float  # P(positive | positive or negative)

    @property
    def label(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)


# A post of only mentions and links: the models would answer with their class priors alone, which lean
# negative and would set off the negative rule. Nothing said is neutral, with no lean either way.
NOTHING_TO_READ = Prediction({"negative": 0.0, "neutral": 1.0, "positive": 0.0}, 0.5)


class _NaiveBayes(Bayes):
    """SnowNLP's classifier, asked for every class's log-probability instead of only the winner's."""

    def train_weighted(self, data: Iterable[tuple[list[str], str, float]]) -> None:
        """SnowNLP's `train`, with a weight a row: each of its words counts that much (add-one smoothing kept)."""
        for words, label, weight in data:
            counts = self.d.setdefault(label, AddOneProb())
            weight = float(weight)  # a Python float: marshal writes a numpy one as raw bytes
            for word in words:
                counts.add(word, weight)
        self.total = sum(c.getsum() for c in self.d.values())

    def log_probabilities(self) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
        """Class priors, the log-probability of an unseen word, and the words seen with theirs (words ×
        classes): the same numbers as SnowNLP's own `classify`, computed once for every word."""
        classes = [self.d[label] for label in LABELS]
        sums = np.array([c.getsum() for c in classes], dtype=np.float64)
        prior = np.log(sums) - math.log(self.total)
        unknown = np.log(np.array([c.none for c in classes], dtype=np.float64) / sums)
        # In the classes' own order, not a set's: each class's look-ups then walk its table in order.
        words = list(dict.fromkeys(chain.from_iterable(c.d for c in classes)))
        counts = np.column_stack([np.fromiter(map(c.d.get, words, repeat(c.none)), dtype=np.float64, count=len(words))
                                  for c in classes])
        return prior, unknown, words, np.log(counts / sums)


class SentimentModel:
    """A trained model: SnowNLP Bayes + logistic regression, with their blend and calibration.

    Both models are read through one table of float32 rows, so that a feature costs one look-up: a row
    holds the feature's logistic-regression coefficients, its Bayes log-probabilities (words only) and
    its IDF (0 for words the logistic regression dropped as rare). Words are found by a dictionary look-up,
    word and character pairs by a binary search over their numeric keys.
    """

    FILES = ("meta.json", "bayes.marshal.3", "features.json.gz", "logreg.npz")  # what training writes

    def __init__(self, folder: Path) -> None:
        missing = [name for name in self.FILES if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{folder}: no {', '.join(missing)}, so not a model this version can read; "
                             f"rebuild it with `yuqing train-sentiment --out {folder}`")
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        nb = _NaiveBayes()
        nb.load(str(folder / "bayes.marshal"))
        prior, unknown, nb_words, nb_table = nb.log_probabilities()
        with gzip.open(folder / "features.json.gz", "rt", encoding="utf-8") as handle:
            features: list[str] = json.load(handle)
        with np.load(folder / "logreg.npz") as lr:
            coef, idf, self.intercept = lr["coef"], lr["idf"], lr["intercept"].astype(np.float64)
        self.index = dict(zip(features, range(len(features))))
        bayes_only = [word for word in nb_words if word not in self.index]  # (nb_words has no repeats)
        self.index.update(zip(bayes_only, range(len(self.index), len(self.index) + len(bayes_only))))
        self._index_pairs(features)
        # Rows past the features and Bayes words are words found only inside pairs: IDF 0 and the Bayes
        # values of an unseen word, so that looking them up changes no score.
        self.table = np.zeros((len(self.index), 7), dtype=np.float32)  # 3 coefficients, 3 Bayes, IDF
        self.table[: len(coef), :3] = coef
        self.table[:, 3:6] = unknown
        self.table[: len(idf), 6] = idf
        self.table[np.fromiter(map(self.index.__getitem__, nb_words), dtype=np.int64, count=len(nb_words)), 3:6] = nb_table
        self.nb_prior, self.nb_unknown = prior, unknown
        self.nb_weight = float(meta["nb_weight"])
        self.temperature = float(meta["temperature"])

    def _index_pairs(self, features: list[str]) -> None:
        """Numeric keys of the pair features. A word in a pair is known by its row in `index` (added if the
        word is no feature itself), so that a post's words are looked up once for both."""
        keys: dict[int, int] = {}
        index = self.index
        for row, feature in enumerate(features):
            repost = feature.startswith("转:")
            body = feature[2:] if repost else feature
            flag = _REPOST_BIT_INT if repost else 0
            if len(body) == 3 and body[0] == "字":
                keys[_CHAR_PAIR_INT | flag | ord(body[1]) << 21 | ord(body[2])] = row
            # A word may hold "_" itself, so every split is indexed: the post's own words pick the right one.
            cut = body.find("_", 1)
            while 0 < cut < len(body) - 1:
                a, b = body[:cut], body[cut + 1:]
                keys[flag | index.setdefault(a, len(index)) << 31 | index.setdefault(b, len(index))] = row
                cut = body.find("_", cut + 1)
        if len(index) >= _NO_WORD:
            raise ValueError("too many features")
        self.pair_keys = np.fromiter(keys, dtype=np.uint64, count=len(keys))
        self.pair_rows = np.fromiter(keys.values(), dtype=np.int64, count=len(keys))
        order = np.argsort(self.pair_keys)
        self.pair_keys, self.pair_rows = self.pair_keys[order], self.pair_rows[order]

    def scores(self, batch: Sequence[Features]) -> tuple[np.ndarray, np.ndarray]:
        """The class scores (posts × 3) of the logistic regression and of Bayes, before they are blended.

        A batch at a time: the Python work per post is one look-up per word, and the arithmetic for all
        posts of the batch is a few numpy calls, whose fixed cost would otherwise outweigh a short post."""
        n = len(batch)
        # Each part's words, "", its emoticons, "": the words' rows are also their ids in word pairs, and no
        # pair spans words and emoticons or two parts ("" has no row). In the repost chain every feature has
        # 转: before it, so its pairs are looked up apart, from the plain words.
        looked_up: list[str] = []
        looked_up_sizes: list[int] = []
        repost_words: list[str] = []
        repost_sizes: list[int] = []
        chars: list[str] = []  # every part's characters, then "\0" (in no pair)
        part_posts: list[int] = []
        part_flags: list[int] = []
        word_counts = np.zeros(n)
        for post, features in enumerate(batch):
            for part in features.parts:
                if part.repost:
                    looked_up += ["转:" + w for w in part.words]
                    looked_up.append("")
                    looked_up += ["转:" + e for e in part.emoticons]
                    repost_words += part.words
                    repost_words.append("")
                    repost_sizes.append(len(part.words) + 1)
                else:
                    looked_up += part.words
                    looked_up.append("")
                    looked_up += part.emoticons
                looked_up.append("")
                looked_up_sizes.append(len(part.words) + len(part.emoticons) + 2)
                word_counts[post] += len(part.words) + len(part.emoticons)
                chars.append(part.chars + "\0")
                part_posts.append(post)
                part_flags.append(_REPOST_BIT_INT if part.repost else 0)
        posts = np.asarray(part_posts, dtype=np.int64)
        flags = np.asarray(part_flags, dtype=np.uint64)
        reposts = flags != 0

        rows = np.fromiter(map(self.index.get, looked_up, repeat(-1)), dtype=np.int64, count=len(looked_up))
        owner = np.repeat(posts, looked_up_sizes)
        known = rows >= 0
        word_rows, word_owner = rows[known], owner[known]

        ids = np.where(known, rows, _NO_WORD).astype(np.uint64)
        plain_ids = np.fromiter(map(self.index.get, repost_words, repeat(_NO_WORD)), dtype=np.uint64,
                                count=len(repost_words))
        char_sizes = np.fromiter(map(len, chars), dtype=np.int64, count=len(chars))
        points = np.frombuffer("".join(chars).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        char_flags = np.repeat(flags, char_sizes)
        keys = np.concatenate([(ids[:-1] << np.uint64(31)) | ids[1:],
                               (plain_ids[:-1] << np.uint64(31)) | plain_ids[1:] | _REPOST_BIT,
                               (points[:-1] << np.uint64(21)) | points[1:] | _CHAR_PAIR | char_flags[:-1]])
        owners = np.concatenate([owner[:-1], np.repeat(posts[reposts], repost_sizes)[:-1], np.repeat(posts, char_sizes)[:-1]])
        # Searched in ascending order, each search starts where the one before ended, in memory it brought in:
        # twice as fast as the keys in post order, even with the sort.
        order = np.argsort(keys)
        at = np.empty_like(order)
        at[order] = np.searchsorted(self.pair_keys, keys[order])
        at = at.clip(max=len(self.pair_keys) - 1)
        hit = self.pair_keys[at] == keys

        # Bayes: the sum of every word's log-probabilities, unknown words included, damped by the length.
        # (np.bincount gives integers when there is nothing to count, hence the explicit float64)
        nb = np.column_stack([np.bincount(word_owner, self.table[word_rows, 3 + c], minlength=n)
                              for c in range(3)]).astype(np.float64)
        nb += self.nb_prior + (word_counts - np.bincount(word_owner, minlength=n))[:, None] * self.nb_unknown
        nb /= np.sqrt(np.maximum(1.0, word_counts))[:, None]  # Bayes adds a term a word: damp its overconfidence

        # Logistic regression over TF-IDF: a feature seen n times in a post weighs 1 + ln n (sublinear TF).
        all_rows = np.concatenate([word_rows, self.pair_rows[at[hit]]])
        all_owners = np.concatenate([word_owner, owners[hit]])
        size = len(self.table)
        unique, counts = np.unique(all_owners * size + all_rows, return_counts=True)
        owner, found = unique // size, self.table[unique % size]
        weights = found[:, 6].astype(np.float64) * (1.0 + np.log(counts))
        norms = np.sqrt(np.bincount(owner, weights * weights, minlength=n))
        lr = np.column_stack([np.bincount(owner, weights * found[:, c], minlength=n)
                              for c in range(3)]).astype(np.float64)
        lr /= np.where(norms > 0, norms, 1.0)[:, None]
        return lr + self.intercept, nb

    def predict(self, batch: Sequence[Features]) -> list[Prediction]:
        lr, nb = self.scores(batch)
        probs = np.exp(blend(lr, nb, self.nb_weight, self.temperature))
        score = probs[:, 2] / (probs[:, 2] + probs[:, 0])
        return [Prediction(dict(zip(LABELS, p)), s) for p, s in zip(probs.tolist(), score.tolist())]


def combined(parts: Sequence[tuple[Prediction, float]]) -> Prediction:
    """One prediction from those of parts of a text (its headline, its lead, the whole), weighted: the
    weighted mean of their class probabilities. (A mean of log-probabilities would let the most certain
    part decide alone, and the whole of a long text is nearly always read as certainly neutral.)"""
    total = sum(weight for _, weight in parts)
    probs = {label: sum(weight * p.probs[label] for p, weight in parts) / total for label in LABELS}
    return Prediction(probs, probs["positive"] / (probs["positive"] + probs["negative"]))


def blend(lr: np.ndarray, nb: np.ndarray, nb_weight: float, temperature: float) -> np.ndarray:
    """Log-probabilities of the three classes (posts × 3) from both models' scores."""
    return _log_softmax(((1 - nb_weight) * _log_softmax(lr) + nb_weight * _log_softmax(nb)) / temperature)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def default_model_dir() -> Path:
    return Path(str(resources.files("analysis").joinpath("models", "sentiment")))


class SentimentScorer:
    """What the pipeline calls: text in, Sentiment out."""

    def __init__(self, tokenizer: Tokenizer, model_dir: Path | None = None) -> None:
        self.features = Featurizer(tokenizer)
        self.model = SentimentModel(model_dir or default_model_dir())

    def predict(self, text: str) -> Prediction | None:
        text = normalize(text)
        return self.predict_many([self.features(text) if text else None])[0]

    def predict_many(self, batch: Sequence[Features | None]) -> list[Prediction | None]:
        """None for a post without text (None in `batch`); neutral for one with text but nothing to read."""
        readable = [f for f in batch if f]
        predictions = iter(self.model.predict(readable) if readable else [])
        return [None if f is None else next(predictions) if f else NOTHING_TO_READ for f in batch]

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
