"""What analysts' corrections teach, as `yuqing train-sentiment --with-corrections` reports it: the dev sets'
figures before and after the retrain, how many corrected posts each model gets right, and, from posts marked
not about the enterprise, `exclude` terms to suggest for their watch schemes (suggested, never applied).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.normalize import normalize, to_simplified
from analysis.sentiment import Features, Prediction, SentimentScorer
from analysis.sentiment_eval import Rows, figures
from models import Post

SUGGESTED = 5  # exclude terms suggested per scheme at most
MAX_RELEVANT_SHARE = 0.01  # a term found in more of the scheme's relevant posts than this would exclude real news


@dataclass
class ExcludeTerm:
    term: str
    covers: int  # of the scheme's posts marked not relevant, how many hold it
    relevant_hits: int  # of the scheme's relevant posts read, how many hold it (and would be excluded too)


@dataclass
class Report:
    before: str  # the models compared, as people know them (a folder, or "shipped")
    after: str
    dev: list[dict[str, Any]] = field(default_factory=list)  # per dev set: figures of both models
    corrected: int = 0  # corrected posts with a sentiment correction
    right_before: int = 0  # … whose corrected label the model before gave
    right_after: int = 0
    weight: int = 1
    excludes: dict[str, list[ExcludeTerm]] = field(default_factory=dict)  # scheme → suggestions
    not_relevant: dict[str, int] = field(default_factory=dict)  # scheme → posts marked not relevant

    def as_json(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "weight": self.weight, "dev": self.dev,
                "corrected": {"posts": self.corrected, "right_before": self.right_before,
                              "right_after": self.right_after},
                "exclude_suggestions": {scheme: [vars(t) for t in terms] for scheme, terms in self.excludes.items()},
                "not_relevant": self.not_relevant}

    def text(self) -> str:
        lines = [f"sentiment model before: {self.before}", f"sentiment model after:  {self.after} "
                 f"(each correction weighs as {self.weight} corpus rows)", ""]
        if self.dev:
            lines.append(f"{'dev set':<22}{'rows':>6}  {'binary acc before → after':>26}  {'3-class macro-F1 before → after':>32}")
            for d in self.dev:
                f1 = f"{d['macro_f1_before']:.3f} → {d['macro_f1_after']:.3f}" if "macro_f1_before" in d else "—"
                lines.append(f"{d['set']:<22}{d['rows']:>6}  {d['binary_before']:>16.3f} → {d['binary_after']:.3f}"
                             f"  {f1:>32}")
        else:
            lines.append("no dev sets given (--dev): no dev figures")
        lines += ["", f"corrected posts the model gets right: {self.right_before} of {self.corrected} before, "
                      f"{self.right_after} of {self.corrected} after"]
        for scheme, count in sorted(self.not_relevant.items()):
            terms = self.excludes.get(scheme, [])
            said = "; ".join(f"{t.term} (in {t.covers} of them, {t.relevant_hits} relevant posts)" for t in terms)
            lines.append(f"scheme {scheme}: {count} posts marked not relevant; suggested exclude terms (not applied): "
                         + (said or "none found"))
        return "\n".join(lines) + "\n"


class Reader:
    """Both models over the same features (read once, with the tokenizer the pipeline uses)."""

    def __init__(self, before: SentimentScorer, after: SentimentScorer) -> None:
        self.before, self.after = before, after

    def predict(self, texts: Sequence[str]) -> tuple[list[Prediction | None], list[Prediction | None]]:
        features: list[Features | None] = []
        for text in texts:
            clean = normalize(text)
            features.append(self.before.features(clean) if clean else None)
        return self.before.predict_many(features), self.after.predict_many(features)


def compare(reader: Reader, dev: dict[str, Rows], corrected: Sequence[Post], report: Report) -> None:
    """The dev sets' figures and the corrected posts got right, by both models, into `report`."""
    for name, rows in dev.items():
        gold = [label for _, label in rows]
        before, after = reader.predict([text for text, _ in rows])
        old, new = figures(name, gold, before), figures(name, gold, after)
        entry = {"set": name, "rows": old["rows"], "binary_before": old["binary"], "binary_after": new["binary"]}
        if "macro_f1" in old:
            entry.update(macro_f1_before=old["macro_f1"], macro_f1_after=new["macro_f1"])
        report.dev.append(entry)
    judged = [p for p in corrected if p.correction and p.correction.sentiment]
    before, after = reader.predict([p.text for p in judged])
    report.corrected = len(judged)
    for post, old_p, new_p in zip(judged, before, after):
        wanted = post.correction.sentiment  # type: ignore[union-attr]
        report.right_before += bool(old_p and old_p.label == wanted)
        report.right_after += bool(new_p and new_p.label == wanted)


def _folded(post: Post) -> str:
    return to_simplified(normalize(post.text).lower())


def exclude_terms(not_relevant: Sequence[Post], relevant: Sequence[Post], watched: Sequence[str]) -> list[ExcludeTerm]:
    """Words of posts marked not relevant that would take most of them out of the scheme and (almost) none of
    its relevant posts: exclude matching is on the folded text, as the scheme's. `watched`: the scheme's own
    terms, never suggested (nor any word holding one, which would exclude what the scheme is for)."""
    if not not_relevant:
        return []
    watched_folded = [to_simplified(w.lower()) for w in watched]
    candidates = {to_simplified(t.lower()) for p in not_relevant for t in p.tokens
                  if len(t) >= 2 and any(c.isalnum() for c in t)}
    candidates = {t for t in candidates if not any(w in t or t in w for w in watched_folded)}
    off = [_folded(p) for p in not_relevant]
    on = [_folded(p) for p in relevant]
    least = 2 if len(off) >= 2 else 1  # one post's every word would do; a term worth excluding recurs
    found = []
    for term in candidates:
        covers = sum(term in text for text in off)
        hits = sum(term in text for text in on)
        if covers >= least and hits <= MAX_RELEVANT_SHARE * len(on):
            found.append(ExcludeTerm(term, covers, hits))
    found.sort(key=lambda t: (-t.covers, t.relevant_hits, -len(t.term), t.term))
    return found[:SUGGESTED]
