"""`yuqing train-sentiment --with-corrections`: the corpus plus the store's corrections in, a model and a
report out (analysis.feedback): the dev sets before and after, corrected posts got right, exclude terms
suggested for the schemes whose posts analysts marked not relevant."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import settings as config
from analysis.feedback import Reader, Report, compare, exclude_terms
from analysis.sentiment import Featurizer, SentimentScorer
from analysis.sentiment_eval import read_sets
from analysis.tokens import Tokenizer
from analysis.train_sentiment import correction_rows, train
from models import Post
from store import open_store
from store.base import SearchQuery

RELEVANT_SAMPLE = 2000  # a scheme's latest posts read to check that a suggested exclude term spares them
REPORT = "corrections-report"  # .txt for people, .json for scripts, in the model folder


class NoCorrections(ValueError):
    """The store holds no corrections to train on."""


def retrain(settings: config.Settings, rows: list[tuple[str, str]], out: Path, *, weight: int,
            dev: Path | None, progress: Callable[[str], None], **training: Any) -> Report:
    """`training`: what else `train` takes (the extra corpora and their weight)."""
    with open_store(settings.store, readonly=True) as store:  # never waits for (or disturbs) a running service
        corrected = list(store.corrections())
        if not corrected:
            raise NoCorrections("the store holds no corrections yet: make them with `yuqing label` or on the "
                                "dashboard's post pages")
        off = _not_relevant(corrected)
        relevant = {name: store.search(SearchQuery(scheme=name, limit=RELEVANT_SAMPLE)).posts for name in off}
    corrections = correction_rows(corrected, weight)
    progress(f"{len(corrections) // weight} corrected posts, each weighing as {weight} corpus rows")
    tokenizer = Tokenizer(t for s in settings.schemes for t in s.terms())
    train(rows + corrections, out, Featurizer(tokenizer), progress=progress, **training)
    before = settings.analysis.sentiment_model
    report = Report(before=str(before) if before else "shipped", after=str(out), weight=weight,
                    not_relevant={name: len(posts) for name, posts in off.items()})
    progress("the dev sets and the corrected posts, before and after …")
    reader = Reader(SentimentScorer(tokenizer, before), SentimentScorer(tokenizer, out))
    compare(reader, read_sets(dev) if dev else {}, corrected, report)
    terms = {s.name: s.terms() for s in settings.schemes}
    report.excludes = {name: exclude_terms(posts, relevant[name], terms.get(name, [])) for name, posts in off.items()}
    (out / f"{REPORT}.txt").write_text(report.text(), encoding="utf-8")
    (out / f"{REPORT}.json").write_text(json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n",
                                        encoding="utf-8")
    return report


def _not_relevant(posts: Sequence[Post]) -> dict[str, list[Post]]:
    """Posts marked not relevant, by the scheme they were taken out of."""
    found: dict[str, list[Post]] = {}
    for post in posts:
        if post.correction and post.correction.relevant is False:
            for match in post.correction.schemes:
                found.setdefault(match.name, []).append(post)
    return found
