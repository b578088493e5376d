"""Training of the sentiment model (see analysis.sentiment): `yuqing train-sentiment`."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.sentiment import LABELS, Featurizer, SentimentModel, _NaiveBayes, blend
from models import Post

HOLDOUT = 0.1
NB_WEIGHTS = [w / 10 for w in range(0, 7)]
TEMPERATURES = [0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0]


def correction_rows(posts: Iterable[Post], weight: int) -> list[tuple[str, str]]:
    """Training rows from analysts' corrections of stored posts: each corrected post's text with its corrected
    label, `weight` times over, so that one correction counts as much as that many corpus rows."""
    return [(post.text, post.correction.sentiment) for post in posts
            if post.correction and post.correction.sentiment and post.text.strip()] * weight


def _log_loss(log_probs: np.ndarray, gold: np.ndarray) -> float:
    return float(-log_probs[np.arange(len(gold)), gold].mean())


def train(rows: Sequence[tuple[str, str]], out: Path, featurizer: Featurizer, *, seed: int = 13,
          progress: Callable[[str], None] = print) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * (1 - HOLDOUT))
    progress(f"features for {len(rows)} rows …")
    features = [featurizer(rows[i][0]) for i in order]
    gold = np.array([LABELS.index(rows[i][1]) for i in order])
    fit, held = slice(0, cut), slice(cut, None)

    progress("logistic regression …")
    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True, min_df=3, max_features=300_000)
    x_fit = vectorizer.fit_transform(features[fit])
    # Unweighted classes: balanced weights gain a point of macro-F1 on the dev sets but read plain
    # complaints (恶臭难忍，投诉无人理) as neutral, the one mistake an early warning cannot afford.
    lr = LogisticRegression(C=4.0, max_iter=3000)
    lr.fit(x_fit, gold[fit])
    assert list(lr.classes_) == [0, 1, 2]

    progress("naive Bayes (SnowNLP) …")
    nb = _NaiveBayes()
    nb.train([(f.words, LABELS[g]) for f, g in zip(features[fit], gold[fit])])

    out.mkdir(parents=True, exist_ok=True)
    nb.save(str(out / "bayes.marshal"))
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    with gzip.open(out / "features.json.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        json.dump(vocabulary, handle, ensure_ascii=False)
    # Numbers as arrays, not JSON: the model loads in a fraction of the time.
    np.savez_compressed(out / "logreg.npz", idf=vectorizer.idf_.astype(np.float32),
                        coef=lr.coef_.T.astype(np.float32), intercept=lr.intercept_)
    meta: dict[str, Any] = {"labels": list(LABELS), "nb_weight": 0.0, "temperature": 1.0, "rows": len(rows)}
    _write_meta(out, meta)

    progress("blend and calibration on the held-out tenth …")
    model = SentimentModel(out)  # scored as the pipeline will score it, from the files just written
    lr_held, nb_held = model.scores(features[held])
    loss, nb_weight, temperature = min((_log_loss(blend(lr_held, nb_held, w, t), gold[held]), w, t)
                                       for w in NB_WEIGHTS for t in TEMPERATURES)
    accuracy = float(np.mean(blend(lr_held, nb_held, nb_weight, temperature).argmax(1) == gold[held]))
    meta.update({"nb_weight": nb_weight, "temperature": temperature,
                 "holdout": {"rows": len(order) - cut, "accuracy_3class": round(accuracy, 4), "log_loss": round(loss, 4)},
                 "features": len(vocabulary), "seed": seed})
    _write_meta(out, meta)
    progress(f"held-out 3-class accuracy {accuracy:.3f}, log-loss {loss:.3f} "
             f"(Bayes weight {nb_weight}, temperature {temperature}); model in {out}")
    return meta


def _write_meta(out: Path, meta: dict[str, Any]) -> None:
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
