"""Events: posts about one story, grouped online as they arrive, across sources and hours.

Each event keeps a centroid of its posts' TF-IDF keyword weights. A new post joins the most similar
event that is still active (cosine similarity of keywords above a threshold, seen within the window);
otherwise it starts a new event and is its first post. An inverted index from terms to events keeps
the comparison to the few events that share a term with the post.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter

from yuqing.models import Post

CENTROID_TERMS = 40
# A term shared by many stories (今天, 视频) keeps only its most recently active events: it could not tell
# them apart anyway, and the post's rarer terms find the right one. This bounds the work per post.
POSTINGS_PER_TERM = 64


@dataclass
class Event:
    id: str
    first_post: str
    first_seen: datetime
    last_seen: datetime
    centroid: dict[str, float] = field(default_factory=dict)
    size: int = 0
    risk: float = 0.0  # the highest of its posts'
    by_source: Counter[str] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_sentiment: Counter[str] = field(default_factory=Counter)
    per_hour: Counter[int] = field(default_factory=Counter)  # hours since the epoch

    @property
    def keywords(self) -> list[str]:
        return sorted(self.centroid, key=self.centroid.__getitem__, reverse=True)[:10]

    @property
    def title(self) -> str:
        return " ".join(self.keywords[:4])

    def growth_per_hour(self) -> int:
        """Posts in the latest hour minus the hour before: how fast the story is spreading now."""
        latest = _hour(self.last_seen)
        return self.per_hour[latest] - self.per_hour[latest - 1]


def _hour(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


def _normalised(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {k: v / norm for k, v in vector.items()}


class EventClusterer:
    def __init__(self, threshold: float = 0.15, window: timedelta = timedelta(hours=72),
                 max_events: int = 20_000) -> None:
        self.threshold = threshold
        self.window = window
        self.max_events = max_events  # the least recently active go first: memory stays bounded
        self.events: dict[str, Event] = {}
        # term → {event id: the term's weight in that event's centroid}
        self._by_term: dict[str, dict[str, float]] = defaultdict(dict)

    def assign(self, post: Post, weights: list[tuple[str, float]]) -> Event | None:
        """Put the post in an event; None for a post with no keywords to go by."""
        if not weights:
            return None
        vector = _normalised(dict(weights))
        moment = post.time
        scores: dict[str, float] = defaultdict(float)
        for term, weight in vector.items():
            for event_id, centroid_weight in self._by_term.get(term, {}).items():
                scores[event_id] += weight * centroid_weight
        best, best_score = None, self.threshold
        for event_id, score in scores.items():
            if score >= best_score and moment - self.events[event_id].last_seen <= self.window:
                best, best_score = self.events[event_id], score
        if best is None:
            best = Event(id="evt:" + hashlib.sha1(post.id.encode("utf-8")).hexdigest()[:16], first_post=post.id,
                         first_seen=moment, last_seen=moment)
        else:
            del self.events[best.id]  # re-inserted below: the dict's order is recency of activity
        self.events[best.id] = best
        self._add(best, post, vector)
        while len(self.events) > self.max_events:
            self._drop(next(iter(self.events)))
        return best

    def _drop(self, event_id: str) -> None:
        event = self.events.pop(event_id)
        for term in event.centroid:
            self._unindex(term, event_id)

    def _unindex(self, term: str, event_id: str) -> None:
        postings = self._by_term.get(term)
        if postings is not None:
            postings.pop(event_id, None)
            if not postings:
                del self._by_term[term]

    def _add(self, event: Event, post: Post, vector: dict[str, float]) -> None:
        if event.size:
            merged = {k: v * event.size for k, v in event.centroid.items()}
            for term, weight in vector.items():
                merged[term] = merged.get(term, 0.0) + weight
        else:
            merged = dict(vector)
        if len(merged) > CENTROID_TERMS:
            merged = dict(heapq.nlargest(CENTROID_TERMS, merged.items(), key=itemgetter(1)))
        for term in event.centroid.keys() - merged.keys():
            self._unindex(term, event.id)
        event.centroid = _normalised(merged)
        by_term = self._by_term
        for term, weight in event.centroid.items():
            postings = by_term[term]
            postings.pop(event.id, None)
            postings[event.id] = weight  # re-inserted: a term's postings are in order of recent activity
            if len(postings) > POSTINGS_PER_TERM:
                del postings[next(iter(postings))]
        event.size += 1
        if post.time < event.first_seen:
            event.first_seen, event.first_post = post.time, post.id
        event.last_seen = max(event.last_seen, post.time)
        event.by_source[post.source] += 1
        event.by_platform[post.platform] += 1
        event.by_sentiment[post.sentiment.label if post.sentiment else "unknown"] += 1
        event.per_hour[_hour(post.time)] += 1
