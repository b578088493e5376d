"""The Store interface: what search, dashboards, reports and alerts may ask of any backend.

The store knows nothing about Chinese text: posts arrive with their `tokens`, a backend that indexes text
is given the analysis stage's gram function (store.text), and a search's text arrives already parsed, its
words already turned into grams and words (store.query).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from models import ACTIVE_FOR, COOLING_FOR, SHANGHAI, Correction, Event, EventStatus, Post, now
from store.query import Query

Interval = Literal["10min", "hour", "day"]
Breakdown = Literal["source", "platform", "tier", "region", "sentiment"]  # fields posts are counted by (sentiment: labelled posts)
Progress = Callable[[int, int], None]  # (posts done, posts in all)


@dataclass(frozen=True)
class SearchQuery:
    """Text plus field filters. Times filter on `Post.time` (published, else crawled) unless noted."""

    text: Query | None = None  # None: every post
    since: datetime | None = None
    until: datetime | None = None
    # Alerts look at what arrived since their last run: posts crawled, or corrected by an analyst, since then.
    crawled_since: datetime | None = None
    sentiment: str | None = None
    source: str | None = None
    platform: str | None = None
    scheme: str | None = None
    event_id: str | None = None  # the posts of one event
    dup_of: str | None = None  # the posts that duplicate one post (their Post.dup_of is its id)
    limit: int = 20
    offset: int = 0
    sort: Literal["time", "relevance"] = "time"


@dataclass(frozen=True)
class EventQuery:
    scheme: str | None = None
    status: EventStatus | None = None  # judged with Event.status_at(now)
    since: datetime | None = None  # last_seen >= since
    sort: Literal["time", "risk"] = "time"  # newest last_seen first, or riskiest first (then newest)
    limit: int = 20
    offset: int = 0


Bound = tuple[Literal["gte", "gt", "lte"], datetime]


def last_seen_bounds(query: EventQuery, moment: datetime) -> list[Bound]:
    """The query's `since` and status, judged at `moment` as Event.status_at judges it, as bounds on last_seen."""
    bounds: list[Bound] = [("gte", query.since)] if query.since else []
    if query.status == "active":
        bounds.append(("gt", moment - ACTIVE_FOR))
    elif query.status == "cooling":
        bounds += [("gt", moment - COOLING_FOR), ("lte", moment - ACTIVE_FOR)]
    elif query.status == "closed":
        bounds.append(("lte", moment - COOLING_FOR))
    return bounds


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def epoch_ms(moment: datetime) -> int:
    """Times of events compare in whole milliseconds, as Elasticsearch keeps them."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)  # exact: no float rounding


@dataclass
class SearchResult:
    total: int
    posts: list[Post]


@dataclass
class UpsertResult:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    # Posts the store refused for good (a value its mapping cannot hold), by id, with the reason; the rest
    # of the batch is stored. A refusal that may pass later (a cluster busy or down) raises StoreError instead.
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class Health:
    ok: bool
    summary: str  # one line for `yuqing status`


@dataclass(frozen=True)
class AuthorReach:
    name: str
    posts: int
    reach: int  # the sum of post_reach over their posts


def keep_corrections(posts: list[Post], stored: dict[str, Correction]) -> list[Post]:
    """Posts about to be written, each with the correction `stored` holds for it applied, unless it brings one of
    its own (a correction being made, or a post copied whole from another store)."""
    return [p.with_correction(stored[p.id]) if p.correction is None and p.id in stored else p for p in posts]


def post_reach(post: Post) -> int:
    """How many people a post may have reached: its author's followers plus those who reposted, commented or
    liked it (views are left out: few platforms give them, and those that do count them differently)."""
    m = post.metrics
    return (post.author.followers or 0) + m.reposts + m.comments + m.likes


@dataclass
class VolumeBucket:
    start: datetime  # aware, Asia/Shanghai, start of the 10 minutes, hour or day there
    total: int
    by_sentiment: dict[str, int]


@dataclass(frozen=True)
class AlertCopy:
    """One alert of the alert state as the store keeps a copy of it (for Kibana's alerts panels)."""

    alert_id: int
    key: str  # what the alert is about, for good: the copy's id
    revision: int  # grows with every change of the alert: an older revision never replaces a newer one
    fields: dict[str, Any]  # the alert's fields, those of store/elastic/alerts.mappings.json; times aware


class StoreError(Exception):
    """The store could not do what was asked; the message says why."""


_SECONDS = {"10min": 600, "hour": 3600, "day": 86400}
_UTC_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving time


def bucket_offset(interval: Interval) -> tuple[int, int]:
    """(step, offset) in seconds: buckets of `step` that start at Shanghai's 10 minutes, hour or midnight."""
    step = _SECONDS[interval]
    return step, (-_UTC_OFFSET) % step


def volume_buckets(found: dict[int, dict[str, int]], query: SearchQuery, interval: Interval) -> list[VolumeBucket]:
    """Every bucket from the query's start (else the first post) to its end (else now, or the last post without
    a start), empty ones included, from the counts by sentiment of the buckets that hold posts (by start, epoch s)."""
    if not found and not query.since:
        return []
    step, offset = bucket_offset(interval)

    def floor(moment: datetime) -> int:
        t = int(moment.timestamp())
        return t - ((t - offset) % step)

    first = floor(query.since) if query.since else min(found)
    last = floor(query.until) if query.until else floor(now()) if query.since else max(found)
    if found:
        first, last = min(first, min(found)), max(last, max(found))
    return [VolumeBucket(datetime.fromtimestamp(start, SHANGHAI), sum(found.get(start, {}).values()),
                         found.get(start, {})) for start in range(first, last + 1, step)]


class Store(ABC):
    @abstractmethod
    def upsert(self, posts: Iterable[Post]) -> UpsertResult:
        """Insert new posts, update known ones by id (metrics, analysis); never duplicate."""

    @abstractmethod
    def get(self, post_id: str) -> Post | None: ...

    @abstractmethod
    def correct(self, post_id: str, correction: Correction) -> Post | None:
        """Apply an analyst's correction to a stored post (what it leaves open, an earlier correction of the post
        still says) and return the post as now stored; None when there is no such post. Every read sees it at
        once, and it stays through later upserts of the post (a re-crawl: the correction wins over the model's
        new verdict, which it keeps) and through reindex and migration."""

    @abstractmethod
    def corrections(self) -> Iterator[Post]:
        """Every post an analyst corrected, with its correction, in no particular order."""

    @abstractmethod
    def search(self, query: SearchQuery) -> SearchResult: ...

    @abstractmethod
    def count(self, query: SearchQuery) -> int: ...

    @abstractmethod
    def volume(self, query: SearchQuery, interval: Interval = "hour") -> list[VolumeBucket]:
        """Posts per 10 minutes, hour or day (Asia/Shanghai), split by sentiment label, oldest first; empty buckets
        included."""

    @abstractmethod
    def top_keywords(self, query: SearchQuery, size: int = 20) -> list[tuple[str, int]]:
        """The most frequent keywords of the matching posts, with exact counts, most frequent first."""

    @abstractmethod
    def breakdown(self, query: SearchQuery, field: Breakdown, size: int = 20) -> list[tuple[str, int]]:
        """Matching posts per value of `field` (a post without a region is not counted by region), exact counts,
        the largest first, ties by value."""

    def by_source(self, query: SearchQuery, size: int = 20) -> list[tuple[str, int]]:
        """Matching posts per source, exact counts, the largest first."""
        return self.breakdown(query, "source", size)

    @abstractmethod
    def top_authors(self, query: SearchQuery, size: int = 10) -> list[AuthorReach]:
        """The named authors of the matching posts with the most reach (post_reach summed), exact; ties go to the
        one with more posts, then by name."""

    @abstractmethod
    def upsert_events(self, events: Iterable[Event]) -> None:
        """Insert or replace events by id (the analysis keeps the whole event: a new version replaces the old)."""

    @abstractmethod
    def get_event(self, event_id: str) -> Event | None: ...

    @abstractmethod
    def events(self, query: EventQuery) -> list[Event]: ...

    def labelled_now(self, event: Event) -> Event:
        """The event with its sentiment split counted from its posts as they are labelled now. Analysis counts
        posts as they arrive; an analyst's correction changes a post's label afterwards, and the running analyser
        would write its own counts over any fix kept on the event."""
        counts = dict(self.breakdown(SearchQuery(event_id=event.id), "sentiment", size=3))
        if unknown := event.by_sentiment.get("unknown", 0):  # posts analysis could not score keep their count
            counts["unknown"] = unknown
        return event.model_copy(update={"by_sentiment": counts})

    @abstractmethod
    def upsert_alerts(self, alerts: Iterable[AlertCopy]) -> dict[str, str]:
        """Write or replace the copy of each alert, one per key (a copy of a newer revision stays); returns those
        refused for good (key → why). Raises StoreError when the store cannot take them now."""

    @abstractmethod
    def reindex(self, progress: Progress | None = None) -> int:
        """Rebuild the search index from the record of truth, in batches; returns how many posts were indexed.

        Refuses (StoreError) when the record of truth holds less than the index: it would hide the loss.
        """

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Many upserts in a row (ingest's backlog): other processes may see them only as the block goes on or when
        it ends, which lets a backend write faster; this process sees each at once, as always."""
        yield

    def check(self) -> None:
        """Raise StoreError when the store cannot take posts now (a cluster down): cheap, asked before work
        that would be wasted."""

    def health(self) -> Health:
        """How the store is, in one line, for `yuqing status`."""
        return Health(True, f"{self.count(SearchQuery()):,} posts")

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
