"""What the overview page shows, as one JSON document: every figure of one range read at one moment, so the
cards, the trend, the breakdowns and a search of the same range all count the same posts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.base import Breakdown, EventQuery, Interval, SearchQuery, Store
from store.query import Value
from models import Event, OutletNames, Post, now

# range → (span, trend bucket): buckets small enough that an incident of an afternoon is more than one bar.
RANGES: dict[str, tuple[timedelta, Interval]] = {
    "24h": (timedelta(hours=24), "10min"), "7d": (timedelta(days=7), "hour"), "30d": (timedelta(days=30), "day")}
LABELS = ("positive", "neutral", "negative", "unknown")
BREAKDOWNS: tuple[Breakdown, ...] = ("platform", "tier", "region", "source")
BASELINE_DAYS = 7  # the current hour's pace, and keywords' rise, against the week before
# A keyword rises as analysis's hot terms do: at least 3 posts, and (count + 1) / (its usual count + 1) at least 3.
RISING, RISING_MIN = 3.0, 3
EVENTS, CANDIDATES = 10, 200  # events shown; how many of the riskiest are looked at for each scheme's
SPARK = 12  # the latest 10-minute buckets an event's sparkline shows (two hours)

NewestAlerts = Callable[[list[str]], dict[str, dict[str, Any]]]  # event ids → the newest alert of each
AlertCount = Callable[[datetime], int]  # alerts raised since a moment
Labelled = Callable[[dict[str, Any]], dict[str, Any]]


def post_summary(post: Post, outlets: OutletNames) -> dict[str, Any]:
    return {
        "id": post.id, "title": post.title or post.content[:60], "url": post.url, "source": post.source,
        "outlet": outlets(post),
        "platform": post.platform, "author": post.author.name, "time": post.time.isoformat(),
        "sentiment": post.sentiment.label if post.sentiment else None,
        "score": post.sentiment.score if post.sentiment else None,
        "schemes": post.scheme_names(), "excerpt": post.content[:160],
    }


def sparkline(event: Event, at: datetime) -> list[int]:
    """Posts per 10 minutes over the last SPARK buckets before `at`, oldest first."""
    latest = at.replace(minute=at.minute // 10 * 10, second=0, microsecond=0)
    counts = {datetime.fromisoformat(start): n for start, n in event.per_10min.items()}
    return [counts.get(latest - timedelta(minutes=10 * back), 0) for back in range(SPARK - 1, -1, -1)]


def shown_events(riskiest: list[Event]) -> list[Event]:
    """The riskiest EVENTS, riskiest first, with each scheme's riskiest among them (even past EVENTS): a scheme
    whose events are all milder than another's still shows that it has one."""
    kept: dict[str, Event] = {}
    for scheme in dict.fromkeys(s for e in riskiest for s in e.schemes):
        first = next(e for e in riskiest if scheme in e.schemes)
        kept.setdefault(first.id, first)
    for e in riskiest:
        if len(kept) >= EVENTS:
            break
        kept.setdefault(e.id, e)
    place = {e.id: n for n, e in enumerate(riskiest)}
    return sorted(kept.values(), key=lambda e: place[e.id])


@dataclass
class Overview:
    store: Store
    recent_alerts: Callable[[int], list[dict[str, Any]]]
    labelled: Labelled
    labels: Mapping[str, Mapping[str, str]]
    newest_alerts: NewestAlerts | None = None
    alert_count: AlertCount | None = None
    # The watch schemes' own terms: in every post of a scheme, so they would lead the hot keywords and say nothing.
    watch_terms: frozenset[str] = frozenset()
    outlets: OutletNames = OutletNames()

    def label(self, kind: str, code: str) -> str:
        if kind == "source":
            return self.outlets.source(code)
        return self.labels.get(kind, {}).get(code, code)

    def summary(self, key: str) -> dict[str, Any]:
        span, interval = RANGES[key]
        at = now()
        window = SearchQuery(since=at - span, until=at)
        negative = self.store.search(SearchQuery(since=at - span, until=at, sentiment="negative", limit=10))
        alerts = [self.labelled(alert) for alert in self.recent_alerts(10)]
        return {
            "generated_at": at.isoformat(), "range": key, "since": window.since.isoformat(),  # type: ignore[union-attr]
            "counts": {
                "total": self.store.count(SearchQuery()), "in_range": self.store.count(window),
                "negative": negative.total,
                "alerts": self.alert_count(at - span) if self.alert_count else len(alerts),
            },
            "volume": [{"start": b.start.isoformat(), "total": b.total,
                        **{label: b.by_sentiment.get(label, 0) for label in LABELS}}
                       for b in self.store.volume(window, interval)],
            "interval": interval,
            "pace": self.pace(at),
            "events": self.events(at),
            "breakdowns": {field: [{"key": value, "label": self.label(field, value), "count": n}
                                   for value, n in self.store.breakdown(window, field, 10)] for field in BREAKDOWNS},
            "authors": [{"name": a.name, "posts": a.posts, "reach": a.reach}
                        for a in self.store.top_authors(window, 10)],
            "keywords": self.keywords(window, span),
            "negative_posts": [post_summary(p, self.outlets) for p in negative.posts],
            "latest_posts": [post_summary(p, self.outlets)
                             for p in self.store.search(SearchQuery(since=at - span, until=at, limit=10)).posts],
            "alerts": alerts,
        }

    def pace(self, at: datetime) -> dict[str, Any]:
        """Posts so far this hour against the same part of the same hour on each of the days before."""
        start = at.replace(minute=0, second=0, microsecond=0)
        before = [self.store.count(SearchQuery(since=start - timedelta(days=d), until=at - timedelta(days=d)))
                  for d in range(1, BASELINE_DAYS + 1)]
        return {"hour_start": start.isoformat(), "posts": self.store.count(SearchQuery(since=start, until=at)),
                "baseline": round(sum(before) / len(before), 1), "days": len(before)}

    def keywords(self, window: SearchQuery, span: timedelta) -> list[dict[str, Any]]:
        """The range's top keywords, each marked rising when it is well above its rate in the week before."""
        top = [(word, n) for word, n in self.store.top_keywords(window, 20 + len(self.watch_terms))
               if word not in self.watch_terms][:20]
        assert window.since is not None  # every range has a start
        out = []
        for word, n in top:
            earlier = SearchQuery(text=Value("keyword", word), since=window.since - BASELINE_DAYS * span,
                                  until=window.since)
            usual = self.store.count(earlier) / BASELINE_DAYS
            out.append({"word": word, "count": n, "baseline": round(usual, 1),
                        "rising": n >= RISING_MIN and (n + 1) / (usual + 1) >= RISING})
        return out

    def events(self, at: datetime) -> list[dict[str, Any]]:
        """Active events, riskiest first, with the state of the alert each raised."""
        events = [self.store.labelled_now(e) for e in
                  shown_events(self.store.events(EventQuery(status="active", sort="risk", limit=CANDIDATES)))]
        alerts = self.newest_alerts([e.id for e in events]) if self.newest_alerts and events else {}
        return [{
            "id": e.id, "title": e.title, "schemes": [self.label("scheme", s) for s in e.schemes],
            "first_poster": self.outlets.source(e.first_poster),
            "first_seen": e.first_seen.isoformat(), "last_seen": e.last_seen.isoformat(), "posts": e.posts,
            "growth": e.growth, "risk": round(e.risk, 2), "spark": sparkline(e, at),
            "sources": [name for name, _ in self.outlets.of_event(e)],
            "platforms": [self.label("platform", p) for p in sorted(e.by_platform, key=lambda p: -e.by_platform[p])],
            "sentiment": {label: e.by_sentiment.get(label, 0) for label in LABELS},
            "alert": self.labelled(alerts[e.id]) if e.id in alerts else None,
        } for e in events]
