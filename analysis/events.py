"""Events: posts about one story, grouped online as they arrive, across sources and hours.

Each event keeps the sum of its posts' TF-IDF keyword vectors. A new post joins the most similar
event that is still active (cosine similarity of keywords above a threshold, seen within the window);
otherwise it starts a new event and is its first post. An inverted index from terms to events keeps
the comparison to the few events that share a term with the post, and a post updates only its own
terms: the work per post does not grow with the size of the events.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from models import SHANGHAI, Post

CENTROID_TERMS = 40  # an event is described by its heaviest terms; it keeps up to twice as many between trims
# A term shared by many stories (今天, 视频) keeps only its most recently active events: it could not tell
# them apart anyway, and the post's rarer terms find the right one. This bounds the work per post.
POSTINGS_PER_TERM = 16
# Recent posts whose event is remembered: a near-duplicate or repost joins its original's event directly.
MEMBERS = 200_000


@dataclass(eq=False)  # events are told apart by identity: they key the term index
class Event:
    id: str
    first_post: str
    first_poster: str  # the first post's author, or its source when the author is unknown
    first_seen: datetime
    last_seen: datetime
    weights: dict[str, float] = field(default_factory=dict)  # the sum of its posts' normalised vectors
    squares: float = 0.0  # the squared length of `weights`, kept up to date term by term
    size: int = 0
    risk: float = 0.0  # the highest of its posts'
    by_source: Counter[str] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_sentiment: Counter[str] = field(default_factory=Counter)
    per_hour: Counter[int] = field(default_factory=Counter)  # hours since the epoch

    @property
    def keywords(self) -> list[str]:
        return heapq.nlargest(10, self.weights, key=self.weights.__getitem__)

    @property
    def title(self) -> str:
        return " ".join(self.keywords[:4])

    def summary(self) -> dict[str, Any]:
        """The event as plain JSON values."""
        return {"id": self.id, "title": self.title, "keywords": self.keywords, "first_post": self.first_post,
                "first_poster": self.first_poster, "first_seen": self.first_seen.isoformat(),
                "last_seen": self.last_seen.isoformat(), "posts": self.size, "risk": round(self.risk, 4),
                "growth_per_hour": self.growth_per_hour(), "by_source": dict(self.by_source),
                "by_platform": dict(self.by_platform), "by_sentiment": dict(self.by_sentiment),
                "per_hour": {datetime.fromtimestamp(h * 3600, SHANGHAI).isoformat(): n
                             for h, n in sorted(self.per_hour.items())}}

    def growth_per_hour(self) -> int:
        """Posts in the latest hour minus the hour before: how fast the story is spreading now."""
        latest = _hour(self.last_seen)
        return self.per_hour[latest] - self.per_hour[latest - 1]


def _poster(post: Post) -> str:
    return post.author.name or post.author.id or post.source


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
        self.on_drop: Callable[[Event], None] | None = None  # told of each event let go
        # term → {event: the term's weight in that event}, in the order the events last took the term
        self._by_term: dict[str, dict[Event, float]] = defaultdict(dict)
        self._members: dict[str, Event] = {}  # post id → its event, the MEMBERS most recent posts

    def assign(self, post: Post, weights: list[tuple[str, float]], duplicate_of: str | None = None) -> Event | None:
        """Put the post in an event; None for a post with no keywords to go by. A post that duplicates
        an earlier one (`duplicate_of`) tells the same story: it joins that post's event while it is active."""
        if not weights:
            return None
        vector = _normalised(dict(weights))
        moment = post.time
        best = self._active(self._members.get(duplicate_of), moment) if duplicate_of else None
        if best is None:
            best = self._most_similar(vector, moment)
        if best is None:
            best = Event(id="evt:" + hashlib.sha1(post.id.encode("utf-8")).hexdigest()[:16], first_post=post.id,
                         first_poster=_poster(post), first_seen=moment, last_seen=moment)
        else:
            del self.events[best.id]  # re-inserted below: the dict's order is recency of activity
        self.events[best.id] = best
        self._add(best, post, moment, vector)
        while len(self.events) > self.max_events:
            self._drop(next(iter(self.events)))
        self._members.pop(post.id, None)
        self._members[post.id] = best
        if len(self._members) > MEMBERS:
            del self._members[next(iter(self._members))]
        return best

    def _active(self, event: Event | None, moment: datetime) -> Event | None:
        if event is None or self.events.get(event.id) is not event or moment - event.last_seen > self.window:
            return None
        return event

    def _most_similar(self, vector: dict[str, float], moment: datetime) -> Event | None:
        dots: dict[Event, float] = defaultdict(float)
        by_term = self._by_term
        for term, weight in vector.items():
            postings = by_term.get(term)
            if postings:
                for event, event_weight in postings.items():
                    dots[event] += weight * event_weight
        # Cosine similarity = dot / |event| (the post's vector has length 1), compared squared: no root to take.
        best, best_square = None, self.threshold ** 2
        for event, dot in dots.items():
            if dot * dot >= best_square * event.squares and moment - event.last_seen <= self.window:
                best, best_square = event, dot * dot / event.squares
        return best

    def _drop(self, event_id: str) -> None:
        event = self.events.pop(event_id)
        for term in event.weights:
            self._unindex(term, event)
        if self.on_drop is not None:
            self.on_drop(event)

    def _unindex(self, term: str, event: Event) -> None:
        postings = self._by_term.get(term)
        if postings is not None:
            postings.pop(event, None)
            if not postings:
                del self._by_term[term]

    def _add(self, event: Event, post: Post, moment: datetime, vector: dict[str, float]) -> None:
        weights, by_term = event.weights, self._by_term
        for term, weight in vector.items():
            old = weights.get(term, 0.0)
            new = weights[term] = old + weight
            event.squares += new * new - old * old
            postings = by_term[term]
            postings.pop(event, None)
            postings[event] = new  # re-inserted: a term's postings are in order of recent activity
            if len(postings) > POSTINGS_PER_TERM:
                del postings[next(iter(postings))]
        if len(weights) > 2 * CENTROID_TERMS:
            kept = dict(sorted(weights.items(), key=itemgetter(1), reverse=True)[:CENTROID_TERMS])
            for term in weights.keys() - kept.keys():
                self._unindex(term, event)
            event.weights = kept
            event.squares = sum(v * v for v in kept.values())
        event.size += 1
        if moment < event.first_seen:
            event.first_seen, event.first_post, event.first_poster = moment, post.id, _poster(post)
        event.last_seen = max(event.last_seen, moment)
        event.by_source[post.source] += 1
        event.by_platform[post.platform] += 1
        event.by_sentiment[post.sentiment.label if post.sentiment else "unknown"] += 1
        event.per_hour[_hour(moment)] += 1
