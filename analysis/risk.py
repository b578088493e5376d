"""Risk: how much a post (or an event) needs an officer's attention, from 0 to 1.

A weighted mean of five signals, each scaled to 0..1:
- negativity: 1 − P(positive);
- reach: followers, reposts, comments and likes, on a log scale (10^6 weighted interactions = 1);
- source tier: central media 1.0, provincial 0.8, local media 0.6, industry 0.5, self-media 0.4,
  individual 0.2, unknown 0.3;
- sensitive terms: 0.5 for one, 1 for two or more (the keyword rules' terms plus [risk].sensitive_terms);
- velocity: the post's event growing by 20 posts an hour or more = 1.
The weights are configurable in `[risk]`; a signal with weight 0 is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import settings as config
from models import Post

TIER = {"central": 1.0, "provincial": 0.8, "local_media": 0.6, "industry": 0.5, "self_media": 0.4,
        "individual": 0.2, "unknown": 0.3}


class RiskScorer:
    def __init__(self, weights: config.Risk, sensitive_terms: Iterable[str] = ()) -> None:
        self._weights = weights.model_dump(exclude={"sensitive_terms"})
        self._total = sum(self._weights.values())
        self.terms = sorted({t.lower() for t in [*sensitive_terms, *weights.sensitive_terms]})

    def signals(self, post: Post, growth_per_hour: int = 0) -> dict[str, float]:
        m = post.metrics
        interactions = (post.author.followers or 0) + 10 * m.reposts + 3 * m.comments + m.likes
        found = 0
        if self.terms:
            text = post.text.lower()
            found = sum(1 for t in self.terms if t in text)
        return {
            "negativity": 1 - post.sentiment.score if post.sentiment else 0.0,
            "reach": min(1.0, math.log10(1 + interactions) / 6),
            "tier": TIER.get(post.source_tier, TIER["unknown"]),
            "sensitive": min(1.0, found / 2),
            "velocity": min(1.0, max(0, growth_per_hour) / 20),
        }

    def score(self, post: Post, growth_per_hour: int = 0) -> float:
        if self._total <= 0:
            return 0.0
        signals = self.signals(post, growth_per_hour)
        return round(sum(w * signals[k] for k, w in self._weights.items()) / self._total, 4)
