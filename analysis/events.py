"""Events: posts about one story, grouped online as they arrive, across sources and hours.

Each event keeps the sum of its posts' term vectors. A new post joins the most similar event that is still
active (cosine similarity above a threshold, seen within the window); otherwise it starts a new event and is
its first post. An inverted index from terms to events keeps the comparison to the few events that share a
term with the post, and a post updates only its own terms: the work per post does not grow with the size of
the events.

A post's vector (EventTerms) is its TF-IDF keywords less what every post of a watch scheme shares: the
scheme's own terms, which are in each of them, and boilerplate (记者, 转自). In their place it gets one term
per scheme and kind of incident it is about (incidents.txt), so that the posts of one incident about a
watched subject join although they share few words, and routine coverage of the same subject does not.

The clusterer remembers which events changed; `take_changed` hands them over as models.Event (to store),
and `restore` takes stored ones back, so that a restarted service continues the same events.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from operator import itemgetter
from typing import Any

from analysis.normalize import to_simplified
from models import SHANGHAI, Event, Post, now

CENTROID_TERMS = 40  # an event is described by its heaviest terms; it keeps up to twice as many between trims
# A term shared by many stories (今天, 视频) keeps only its most recently active events: it could not tell
# them apart anyway, and the post's rarer terms find the right one. This bounds the work per post.
POSTINGS_PER_TERM = 16
# Recent posts whose event is remembered: a near-duplicate or repost joins its original's event directly.
MEMBERS = 200_000
WORDS = 10  # a post's heaviest keywords that go into its vector
KIND = "§"  # starts the vector's incident terms; no keyword does (jieba cuts the sign off as punctuation)
TEN_MINUTES, HOUR = 600, 3600
TITLE_CHARS = 60


def _lines(name: str) -> list[str]:
    text = resources.files("analysis").joinpath(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class EventTerms:
    """What clustering compares of a post (see the module's docstring)."""

    def __init__(self, scheme_terms: Iterable[str] = ()) -> None:
        # As the tokenizer has them: lower case, simplified, a term of several words word by word.
        own = {to_simplified(part.lower()) for term in scheme_terms for part in term.split()}
        self.ignored = frozenset(own | set(_lines("boilerplate.txt")))
        self.kinds = [(words[0], tuple(words[1:])) for words in map(str.split, _lines("incidents.txt"))]

    def vector(self, weighted: Sequence[tuple[str, float]], folded_text: str, schemes: Sequence[str]) -> dict[str, float]:
        """`weighted`: the post's keywords, heaviest first; `folded_text`: its text lower-case and simplified."""
        vector = dict([(t, w) for t, w in weighted if t not in self.ignored][:WORDS])
        kinds = [f"{KIND}{scheme}/{kind}" for scheme in schemes for kind, words in self.kinds
                 if any(word in folded_text for word in words)]
        if kinds:
            # The subject and kind together weigh as much as the post's words.
            words = math.sqrt(sum(v * v for v in vector.values())) or 1.0
            vector.update(dict.fromkeys(kinds, words / math.sqrt(len(kinds))))
        return vector


def _poster(post: Post) -> str:
    return post.author.name or post.outlet or post.source


def _title(post: Post) -> str:
    return post.title or " ".join(post.content.split())[:TITLE_CHARS]


def _bucket(moment: datetime, step: int) -> int:
    return int(moment.timestamp()) // step


def _moment(bucket: int, step: int) -> str:
    return datetime.fromtimestamp(bucket * step, SHANGHAI).isoformat()


def _buckets(stored: dict[str, int], step: int) -> Counter[int]:
    return Counter({_bucket(datetime.fromisoformat(start), step): n for start, n in stored.items()})


def _normalised(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {k: v / norm for k, v in vector.items()}


# Told apart by identity: they key the term index. Slots: comparing a post with an event reads its `squares`,
# from memory the cache rarely holds; with slots that is one read less.
@dataclass(eq=False, slots=True)
class Cluster:
    """An event while analysis builds it; `model()` is the event as the store and alerts see it."""

    id: str
    first_post: str
    first_poster: str  # the first post's author, else its outlet, else its source
    title: str
    first_seen: datetime
    last_seen: datetime
    weights: dict[str, float] = field(default_factory=dict)  # the sum of its posts' normalised vectors
    squares: float = 0.0  # the squared length of `weights`, kept up to date term by term
    size: int = 0
    risk: float = 0.0  # the highest of its posts'
    schemes: dict[str, None] = field(default_factory=dict)  # in the order first seen
    responses: list[str] = field(default_factory=list)
    by_source: Counter[str] = field(default_factory=Counter)
    by_outlet: Counter[str] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    by_tier: Counter[str] = field(default_factory=Counter)
    by_sentiment: Counter[str] = field(default_factory=Counter)
    per_10min: Counter[int] = field(default_factory=Counter)  # ten-minute spans since the epoch
    per_hour: Counter[int] = field(default_factory=Counter)  # hours since the epoch

    @property
    def keywords(self) -> list[str]:
        words = {t: w for t, w in self.weights.items() if not t.startswith(KIND)}
        return heapq.nlargest(10, words, key=words.__getitem__)

    def growth_per_hour(self) -> int:
        """Posts in the latest hour minus the hour before: how fast the story is spreading now."""
        latest = _bucket(self.last_seen, HOUR)
        return self.per_hour[latest] - self.per_hour[latest - 1]

    def model(self, updated_at: datetime) -> Event:
        event = Event(
            id=self.id, title=self.title, keywords=self.keywords, schemes=list(self.schemes),
            first_post=self.first_post, first_poster=self.first_poster, first_seen=self.first_seen,
            last_seen=self.last_seen, posts=self.size, by_platform=dict(self.by_platform), by_tier=dict(self.by_tier),
            by_sentiment=dict(self.by_sentiment), by_source=dict(self.by_source), by_outlet=dict(self.by_outlet),
            per_10min={_moment(b, TEN_MINUTES): n for b, n in sorted(self.per_10min.items())},
            per_hour={_moment(h, HOUR): n for h, n in sorted(self.per_hour.items())},
            growth=self.growth_per_hour(), risk=round(self.risk, 4), responses=list(self.responses),
            terms=dict(self.weights), updated_at=updated_at)
        event.status = event.status_at(updated_at)
        return event

    @classmethod
    def of(cls, event: Event) -> Cluster:
        """A stored event, to continue."""
        return cls(id=event.id, first_post=event.first_post, first_poster=event.first_poster, title=event.title,
                   first_seen=event.first_seen, last_seen=event.last_seen, weights=dict(event.terms),
                   squares=sum(v * v for v in event.terms.values()), size=event.posts, risk=event.risk,
                   schemes=dict.fromkeys(event.schemes), responses=list(event.responses),
                   by_source=Counter(event.by_source), by_outlet=Counter(event.by_outlet), by_platform=Counter(event.by_platform),
                   by_tier=Counter(event.by_tier), by_sentiment=Counter(event.by_sentiment),
                   per_10min=_buckets(event.per_10min, TEN_MINUTES), per_hour=_buckets(event.per_hour, HOUR))

    def summary(self) -> dict[str, Any]:
        """The event as plain JSON values (its centroid left out)."""
        return self.model(now()).model_dump(mode="json", exclude={"terms"})


class EventClusterer:
    def __init__(self, threshold: float = 0.15, window: timedelta = timedelta(hours=72),
                 max_events: int = 20_000) -> None:
        self.threshold = threshold
        self.window = window
        self.max_events = max_events  # the least recently active go first: memory stays bounded
        self.events: dict[str, Cluster] = {}
        self.on_drop: Callable[[Cluster], None] | None = None  # told of each event let go
        # term → {event: the term's weight in that event}, in the order the events last took the term
        self._by_term: dict[str, dict[Cluster, float]] = defaultdict(dict)
        self._members: dict[str, Cluster] = {}  # post id → its event, the MEMBERS most recent posts
        self._changed: dict[str, Cluster] = {}  # since the last take_changed, dropped ones included
        # Off for a reader that never takes them (`yuqing analyze`): they would keep every event ever made.
        self.track_changes = True

    def assign(self, post: Post, vector: dict[str, float], duplicate_of: str | None = None) -> Cluster | None:
        """Put the post in an event; None for a post with nothing to go by. A post that duplicates an
        earlier one (`duplicate_of`) tells the same story: it joins that post's event while it is active."""
        if not vector:
            return None
        moment = post.time
        again = self._active(self._members.get(post.id), moment)
        if again is not None:  # a post crawled again (its counts updated): counted in its event already
            self._changed_now(again)
            return again
        vector = _normalised(vector)
        best = self._active(self._members.get(duplicate_of), moment) if duplicate_of else None
        if best is None:
            best = self._most_similar(vector, moment)
        if best is None:
            best = Cluster(id="evt:" + hashlib.sha1(post.id.encode("utf-8")).hexdigest()[:16], first_post=post.id,
                           first_poster=_poster(post), title=_title(post), first_seen=moment, last_seen=moment)
        else:
            del self.events[best.id]  # re-inserted below: the dict's order is recency of activity
        self.events[best.id] = best
        self._add(best, post, moment, vector)
        self._changed_now(best)
        while len(self.events) > self.max_events:
            self._drop(next(iter(self.events)))
        self._remember(post.id, best)
        return best

    def _changed_now(self, event: Cluster) -> None:
        if self.track_changes:
            self._changed[event.id] = event

    def take_changed(self, updated_at: datetime | None = None) -> list[Event]:
        """The events changed since the last call, as of `updated_at` (now)."""
        moment = updated_at or now()
        changed, self._changed = self._changed, {}
        return [cluster.model(moment) for cluster in changed.values()]

    def restore(self, events: Iterable[Event]) -> None:
        """Continue stored events: later posts join them as if the process had never stopped. An event known
        here already is kept as it is (it is newer than any stored copy)."""
        for event in sorted(events, key=lambda e: e.last_seen):
            if event.id in self.events:
                continue
            cluster = Cluster.of(event)
            self.events[cluster.id] = cluster
            for term, weight in cluster.weights.items():
                self._index(term, cluster, weight)
            for post_id in (cluster.first_post, *cluster.responses):
                self._remember(post_id, cluster)
        while len(self.events) > self.max_events:
            self._drop(next(iter(self.events)))

    def _remember(self, post_id: str, cluster: Cluster) -> None:
        self._members.pop(post_id, None)
        self._members[post_id] = cluster
        if len(self._members) > MEMBERS:
            del self._members[next(iter(self._members))]

    def _active(self, event: Cluster | None, moment: datetime) -> Cluster | None:
        if event is None or self.events.get(event.id) is not event or moment - event.last_seen > self.window:
            return None
        return event

    def _most_similar(self, vector: dict[str, float], moment: datetime) -> Cluster | None:
        dots: dict[Cluster, float] = defaultdict(float)
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

    def _index(self, term: str, event: Cluster, weight: float) -> None:
        postings = self._by_term[term]
        postings.pop(event, None)
        postings[event] = weight  # re-inserted: a term's postings are in order of recent activity
        if len(postings) > POSTINGS_PER_TERM:
            del postings[next(iter(postings))]

    def _unindex(self, term: str, event: Cluster) -> None:
        postings = self._by_term.get(term)
        if postings is not None:
            postings.pop(event, None)
            if not postings:
                del self._by_term[term]

    def _add(self, event: Cluster, post: Post, moment: datetime, vector: dict[str, float]) -> None:
        weights = event.weights
        for term, weight in vector.items():
            old = weights.get(term, 0.0)
            new = weights[term] = old + weight
            event.squares += new * new - old * old
            self._index(term, event, new)
        if len(weights) > 2 * CENTROID_TERMS:
            kept = dict(sorted(weights.items(), key=itemgetter(1), reverse=True)[:CENTROID_TERMS])
            for term in weights.keys() - kept.keys():
                self._unindex(term, event)
            event.weights = kept
            event.squares = sum(v * v for v in kept.values())
        event.size += 1
        if moment < event.first_seen:
            event.first_seen, event.first_post = moment, post.id
            event.first_poster, event.title = _poster(post), _title(post)
        event.last_seen = max(event.last_seen, moment)
        event.schemes.update(dict.fromkeys(post.scheme_names()))
        if post.official and post.id not in event.responses:
            event.responses.append(post.id)
        event.by_source[post.source] += 1
        event.by_outlet[post.outlet or post.source] += 1
        event.by_platform[post.platform] += 1
        event.by_tier[post.source_tier] += 1
        event.by_sentiment[post.sentiment.label if post.sentiment else "unknown"] += 1
        event.per_10min[_bucket(moment, TEN_MINUTES)] += 1
        event.per_hour[_bucket(moment, HOUR)] += 1
