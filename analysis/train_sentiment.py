"""Training of the sentiment model (see analysis.sentiment): `yuqing train-sentiment`."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.sentiment import LABELS, Featurizer, _log_softmax, _NaiveBayes, word_features

HOLDOUT = 0.1
NB_WEIGHTS = [w / 10 for w in range(0, 7)]
TEMPERATURES = [0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0]


def _log_loss(logits: np.ndarray, gold: np.ndarray, temperature: float) -> float:
    total = 0.0
    for row, y in zip(logits, gold):
        total -= _log_softmax((row / temperature).tolist())[y]
    return total / len(gold)


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
    vectorizer = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True, min_df=3, max_features=300_000)
    x_fit = vectorizer.fit_transform(features[fit])
    lr = LogisticRegression(C=4.0, max_iter=3000)
    lr.fit(x_fit, gold[fit])
    assert list(lr.classes_) == [0, 1, 2]

    progress("naive Bayes (SnowNLP) …")
    nb = _NaiveBayes()
    nb.train([(word_features(f), LABELS[g]) for f, g in zip(features[fit], gold[fit])])
    nb.prepare()

    progress("blend and calibration on the held-out tenth …")
    lr_held = np.array([_log_softmax(r) for r in lr.decision_function(vectorizer.transform(features[held])).tolist()])
    nb_held = np.array([_log_softmax(nb.log_scores(f)) for f in features[held]])
    best = min(((_log_loss((1 - w) * lr_held + w * nb_held, gold[held], t), w, t)
                for w in NB_WEIGHTS for t in TEMPERATURES))
    loss, nb_weight, temperature = best
    blended = (1 - nb_weight) * lr_held + nb_weight * nb_held
    accuracy = float(np.mean(blended.argmax(1) == gold[held]))

    out.mkdir(parents=True, exist_ok=True)
    nb.save(str(out / "bayes.marshal"))
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    with gzip.open(out / "logreg.json.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        json.dump({"features": vocabulary,
                   "idf": [round(float(v), 5) for v in vectorizer.idf_],
                   "coef": [[round(float(v), 5) for v in row] for row in lr.coef_.T],
                   "intercept": [round(float(v), 5) for v in lr.intercept_]}, handle, ensure_ascii=False)
    meta = {"labels": list(LABELS), "nb_weight": nb_weight, "temperature": temperature, "rows": len(rows),
            "holdout": {"rows": len(order) - cut, "accuracy_3class": round(accuracy, 4),
                        "log_loss": round(loss, 4)},
            "features": len(vocabulary), "seed": seed}
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    progress(f"held-out 3-class accuracy {accuracy:.3f}, log-loss {loss:.3f} "
             f"(Bayes weight {nb_weight}, temperature {temperature}); model in {out}")
    return meta
