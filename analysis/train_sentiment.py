"""Training of the sentiment model (see analysis.sentiment): `yuqing train-sentiment`."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.sentiment import LABELS, Featurizer, Features, SentimentModel, _NaiveBayes, blend
from models import Post

HOLDOUT = 0.1
NB_WEIGHTS = [w / 10 for w in range(0, 7)]
TEMPERATURES = [0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0]
# What a row of the extra corpora weighs against a row of the main ones. They are binary (no neutral rows)
# and mostly reviews: at full weight they cost SMP2020's three-class macro-F1 two and a half points. With
# the class priors set back to the main rows' (see _prior_shift), from 0.03 to 0.07 they cost neither SMP2020
# set any macro-F1 and add up to a point of it and of binary accuracy on the usual set; at 0.1 and more the
# epidemic set's macro-F1 drops.
EXTRA_WEIGHT = 0.05


def correction_rows(posts: Iterable[Post], weight: int) -> list[tuple[str, str]]:
    """Training rows from analysts' corrections of stored posts: each corrected post's text with its corrected
    label, `weight` times over, so that one correction counts as much as that many corpus rows."""
    return [(post.text, post.correction.sentiment) for post in posts
            if post.correction and post.correction.sentiment and post.text.strip()] * weight


def _log_loss(log_probs: np.ndarray, gold: np.ndarray) -> float:
    return float(-log_probs[np.arange(len(gold)), gold].mean())


def train(rows: Sequence[tuple[str, str]], out: Path, featurizer: Featurizer, *,
          extra: Sequence[tuple[str, str]] = (), extra_weight: float = EXTRA_WEIGHT, seed: int = 13,
          progress: Callable[[str], None] = print) -> dict[str, Any]:
    """A model from `rows`, of which a tenth is held out to choose the blend and calibrate it. `extra` rows
    (another kind of text, or labels of another scheme) only join the fit, each weighing `extra_weight`:
    the held-out tenth stays of the kind the model is for."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * (1 - HOLDOUT))
    also = f" and {len(extra)} extra rows, each weighing {extra_weight}" if extra else ""
    progress(f"features for {len(rows)} rows{also} …")
    features = [featurizer(rows[i][0]) for i in order]
    gold = np.array([LABELS.index(rows[i][1]) for i in order])
    held = slice(cut, None)
    fit_features, fit_gold, weights = _fit_set(features[:cut], gold[:cut], extra, extra_weight, featurizer)

    progress("logistic regression …")
    vectorizer = TfidfVectorizer(analyzer=list, sublinear_tf=True, min_df=3, max_features=300_000)
    x_fit = vectorizer.fit_transform(fit_features)
    # Unweighted classes: balanced weights gain a point of macro-F1 on the dev sets but read plain
    # complaints (恶臭难忍，投诉无人理) as neutral, the one mistake an early warning cannot afford.
    lr = LogisticRegression(C=4.0, max_iter=3000)
    lr.fit(x_fit, fit_gold, sample_weight=weights)
    assert list(lr.classes_) == [0, 1, 2]
    if len(fit_gold) > cut:  # extra rows joined the fit
        lr.intercept_ += _prior_shift(gold[:cut], fit_gold, weights)

    progress("naive Bayes (SnowNLP) …")
    nb = _NaiveBayes()
    nb.train_weighted([(f.words, LABELS[g], w) for f, g, w in zip(fit_features, fit_gold, weights)])

    out.mkdir(parents=True, exist_ok=True)
    nb.save(str(out / "bayes.marshal"))
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    with gzip.open(out / "features.json.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        json.dump(vocabulary, handle, ensure_ascii=False)
    # Numbers as arrays, not JSON: the model loads in a fraction of the time.
    np.savez_compressed(out / "logreg.npz", idf=vectorizer.idf_.astype(np.float32),
                        coef=lr.coef_.T.astype(np.float32), intercept=lr.intercept_)
    meta: dict[str, Any] = {"labels": list(LABELS), "nb_weight": 0.0, "temperature": 1.0, "rows": len(rows)}
    if extra and extra_weight > 0:
        meta.update({"extra_rows": len(extra), "extra_weight": extra_weight})
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


def _fit_set(features: list[Features], gold: np.ndarray, extra: Sequence[tuple[str, str]], extra_weight: float,
             featurizer: Featurizer) -> tuple[list[Features], np.ndarray, np.ndarray]:
    """The rows to fit on, with their labels and weights: the main rows weigh 1, the extra ones `extra_weight`."""
    if not extra or extra_weight <= 0:
        return features, gold, np.ones(len(gold))
    extra_gold = np.array([LABELS.index(label) for _, label in extra])
    weights = np.concatenate([np.ones(len(gold)), np.full(len(extra), extra_weight)])
    return features + [featurizer(text) for text, _ in extra], np.concatenate([gold, extra_gold]), weights


def _prior_shift(gold: np.ndarray, fit_gold: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """What turns the fitted model's class priors back into those of the main rows: the extra rows hold no
    neutral ones, and the neutral posts they would otherwise talk the model out of are the most common."""
    main = (np.bincount(gold, minlength=3) + 1) / (len(gold) + 3)  # add-one: a class may have no main rows
    fitted = (np.bincount(fit_gold, weights=weights, minlength=3) + 1) / (weights.sum() + 3)
    return np.log(main) - np.log(fitted)


def _write_meta(out: Path, meta: dict[str, Any]) -> None:
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
