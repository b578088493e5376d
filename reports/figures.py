"""What a briefing says, as numbers: read from the store, and from the alert record given as plain data."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from models import SOURCE_TIERS, Event, EventStatus, OutletNames, Post
from reports.period import Period
from store.base import EventQuery, SearchQuery, Store, VolumeBucket
from store.query import Value

TOP_EVENTS = 5
TOP_NEGATIVE = 10
TOP_SOURCES = 10
TOP_TERMS = 15
# Negative posts read to rank by reach: a period with more shows the widest-reaching of the newest this many.
NEGATIVE_READ = 1000


@dataclass(frozen=True)
class AlertFacts:
    """One alert as a briefing needs it; the service reads it from the alert state and its history."""

    id: int
    title: str
    severity: str
    state: str  # now
    created_at: datetime
    acknowledged_at: datetime | None = None  # the first acknowledgement
    resolved_at: datetime | None = None  # the first resolution
    event_id: str | None = None

    @property
    def to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.created_at if self.acknowledged_at else None

    @property
    def to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.created_at if self.resolved_at else None


# Alerts raised, acknowledged or resolved between two moments (the second excluded).
AlertSource = Callable[[datetime, datetime], list[AlertFacts]]


def _during(moment: datetime | None, period: Period) -> bool:
    return moment is not None and period.start <= moment < period.end


@dataclass(frozen=True)
class Figure:
    name: str
    current: float
    previous: float
    share: bool = False  # a fraction of 1, shown in per cent

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when that had none."""
        return (self.current - self.previous) / self.previous if self.previous else None


@dataclass(frozen=True)
class EventLine:
    event: Event
    posts: int  # in the period
    negative: int  # in the period
    status: EventStatus  # at the period's end, or when the briefing was made if that is sooner
    timeline: list[tuple[datetime, int]]  # posts per hour (a day) or per day (a week) within the period
    alert_state: str | None  # of its latest alert, if it raised one
    milestones: list[tuple[datetime, str]]  # 事件脉络: first post, official responses, its alerts' moves; in order


@dataclass(frozen=True)
class HotTerm:
    term: str
    count: int
    previous: int

    @property
    def rising(self) -> bool:
        return self.count >= 2 * max(self.previous, 1)


@dataclass(frozen=True)
class Responses:
    raised: list[AlertFacts]  # in the period
    handled: list[AlertFacts]  # acknowledged or resolved in the period
    to_acknowledge: timedelta | None  # median over alerts acknowledged in the period
    to_resolve: timedelta | None  # median over alerts resolved in the period
    open_now: int  # of those raised in the period, not yet resolved


@dataclass
class Briefing:
    period: Period
    scheme: str | None
    made_at: datetime
    headline: list[Figure]
    trend: list[VolumeBucket]
    events: list[EventLine]
    negative: list[Post]
    sources: list[tuple[str, int]]
    tiers: list[tuple[str, int]]
    platforms: list[tuple[str, int]]
    terms: list[HotTerm]
    alerts: Responses
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    outlets: OutletNames = OutletNames()  # the names people read for posts' outlets and for sources


def reach(post: Post) -> int:
    """How far a post may have gone: its author's followers plus the people who passed it on or answered."""
    m = post.metrics
    return (post.author.followers or 0) + m.reposts + m.comments + m.likes


class Reader:
    def __init__(self, store: Store, alerts: AlertSource, platforms: Collection[str], scheme: str | None = None,
                 outlets: OutletNames = OutletNames()) -> None:
        self.store = store
        self.outlets = outlets
        self.platforms = sorted(platforms)
        self.alerts = alerts
        self.scheme = scheme

    def _query(self, period: Period, **fields: object) -> SearchQuery:
        return SearchQuery(since=period.start, until=period.last_second, scheme=self.scheme, **fields)  # type: ignore[arg-type]

    def events(self, period: Period) -> list[Event]:
        """Events with posts in the period, riskiest first."""
        found: list[Event] = []
        while page := self.store.events(EventQuery(scheme=self.scheme, since=period.start, sort="risk", limit=500,
                                                    offset=len(found))):
            found += page
        return [e for e in found if e.first_seen < period.end]

    def alerts_in(self, period: Period) -> list[AlertFacts]:
        return self.alerts(period.start, period.end)

    def read(self, period: Period, made_at: datetime) -> Briefing:
        before = period.previous()
        counts = {p: (self.store.count(self._query(p)), self.store.count(self._query(p, sentiment="negative")))
                  for p in (period, before)}
        events, alerts = self.events(period), self.alerts_in(period)
        raised = [a for a in alerts if _during(a.created_at, period)]
        earlier = [a for a in self.alerts_in(before) if _during(a.created_at, before)]
        headline = [
            Figure("posts", counts[period][0], counts[before][0]),
            Figure("negative", counts[period][1], counts[before][1]),
            Figure("negative_share", _share(counts[period]), _share(counts[before]), share=True),
            Figure("events", len(events), len(self.events(before))),
            Figure("alerts", len(raised), len(earlier)),
        ]
        interval = "hour" if period.kind == "day" else "day"
        return Briefing(
            period=period, scheme=self.scheme, made_at=made_at, headline=headline,
            trend=self.store.volume(self._query(period), interval),
            events=[self._event_line(e, period, alerts, min(period.end, made_at)) for e in events[:TOP_EVENTS]],
            negative=self._negative(period),
            sources=[(self.outlets.source(s), n) for s, n in self.store.by_source(self._query(period), TOP_SOURCES)],
            tiers=self._split(period, "tier", SOURCE_TIERS),
            platforms=self._split(period, "platform", self.platforms),
            terms=self._terms(period, before),
            alerts=_responses(raised, alerts, period),
            outlets=self.outlets,
        )

    def _event_line(self, event: Event, period: Period, alerts: list[AlertFacts], moment: datetime) -> EventLine:
        in_period = self._query(period, event_id=event.id)
        buckets = self.store.volume(in_period, "hour" if period.kind == "day" else "day")
        ours = [a for a in alerts if a.event_id == event.id]
        return EventLine(
            event=event, posts=self.store.count(in_period),
            negative=self.store.count(self._query(period, event_id=event.id, sentiment="negative")),
            status=event.status_at(moment),
            timeline=[(b.start, b.total) for b in buckets if period.start <= b.start < period.end],
            alert_state=max(ours, key=lambda a: a.created_at).state if ours else None,
            milestones=self._milestones(event, ours),
        )

    def _milestones(self, event: Event, alerts: list[AlertFacts]) -> list[tuple[datetime, str]]:
        found = [(event.first_seen, f"首发：{self.outlets.source(event.first_poster)}")]
        for post_id in event.responses:
            if (post := self.store.get(post_id)) is not None:
                found.append((post.time, f"官方回应：{post.author.name or self.outlets(post)}"))
        for alert in alerts:
            found += [(moment, what) for moment, what in ((alert.created_at, "预警"), (alert.acknowledged_at, "预警确认"),
                                                          (alert.resolved_at, "预警解决")) if moment is not None]
        return sorted(found, key=lambda m: m[0])

    def _negative(self, period: Period) -> list[Post]:
        posts = self.store.search(self._query(period, sentiment="negative", limit=NEGATIVE_READ)).posts
        return sorted((p for p in posts if not p.dup_of), key=lambda p: (-reach(p), p.time))[:TOP_NEGATIVE]

    def _split(self, period: Period, name: str, values: Collection[str]) -> list[tuple[str, int]]:
        counts = [(v, self.store.count(self._query(period, text=Value(name, v)))) for v in values]
        return sorted((c for c in counts if c[1]), key=lambda c: -c[1])

    def _terms(self, period: Period, before: Period) -> list[HotTerm]:
        earlier = dict(self.store.top_keywords(self._query(before), 200))
        return [HotTerm(term, count, earlier.get(term, 0))
                for term, count in self.store.top_keywords(self._query(period), TOP_TERMS)]


def _share(counts: tuple[int, int]) -> float:
    posts, negative = counts
    return negative / posts if posts else 0.0


def _responses(raised: list[AlertFacts], alerts: list[AlertFacts], period: Period) -> Responses:
    acked = [a.to_acknowledge for a in alerts if _during(a.acknowledged_at, period) and a.to_acknowledge is not None]
    resolved = [a.to_resolve for a in alerts if _during(a.resolved_at, period) and a.to_resolve is not None]
    handled = [a for a in alerts if _during(a.acknowledged_at, period) or _during(a.resolved_at, period)]
    return Responses(
        raised=sorted(raised, key=lambda a: a.created_at),
        handled=sorted(handled, key=lambda a: a.created_at),
        to_acknowledge=median(acked) if acked else None,
        to_resolve=median(resolved) if resolved else None,
        open_now=sum(1 for a in raised if a.state != "resolved"),
    )
