"""Sentiment: SnowNLP's Bayes classifier as shipped (trained on product reviews).

A later stage retrains it in-domain; until then the label thresholds are deliberately wide so that
only clear cases are called positive or negative.
"""

from __future__ import annotations

from yuqing.models import Sentiment

# SnowNLP's own segmenter is slow and its model saw short reviews: the head of a long post is enough.
MAX_CHARS = 2000


class SentimentScorer:
    def __init__(self, negative_below: float = 0.35, positive_above: float = 0.65) -> None:
        from snownlp import sentiment  # imported here: loading its model takes seconds

        self._classify = sentiment.classify
        self.negative_below = negative_below
        self.positive_above = positive_above

    def score(self, text: str) -> Sentiment | None:
        text = text.strip()[:MAX_CHARS]
        if not text:
            return None
        p = min(1.0, max(0.0, float(self._classify(text))))
        label = "negative" if p < self.negative_below else "positive" if p > self.positive_above else "neutral"
        return Sentiment(label=label, score=round(p, 4))
