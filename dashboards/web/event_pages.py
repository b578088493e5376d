"""An event's own page: its timeline (事件脉络), growth in 10-minute buckets drawn on the server as SVG, Weibo
repost chains, and the alerts raised on it with their state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from dashboards.web.alert_pages import EVENT_STATUS, SENTIMENTS, AlertDesk, timeline
from dashboards.web.search_pages import post_path
from models import SHANGHAI, Event, Post, now
from store.base import Store

EventAlerts = Callable[[Event], list[dict[str, Any]]]  # the alerts raised on an event, from the alert state
STEP = timedelta(minutes=10)
MAX_BARS = 432  # three days of 10-minute buckets; an older event shows its latest three days
CHAIN_DEPTH = 12  # deeper repost chains are cut: a loop in bad data must not recurse forever
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 960, 200, 36, 24, 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    start: datetime


@dataclass(frozen=True)
class Growth:
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # x, label
    levels: list[tuple[float, int]]  # y, count
    width: int = WIDTH
    height: int = HEIGHT


def growth(per_10min: dict[str, int]) -> Growth | None:
    """Bars for every 10 minutes from the first bucket to the last, empty ones included, with dated ticks."""
    counts = {datetime.fromisoformat(start).astimezone(SHANGHAI): n for start, n in per_10min.items()}
    if not counts:
        return None
    last = max(counts)
    first = max(min(counts), last - STEP * (MAX_BARS - 1))
    starts = [first + STEP * i for i in range(int((last - first) / STEP) + 1)]
    top = max(counts[s] for s in counts if s >= first) or 1
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - TOP - BOTTOM
    step = plot_w / len(starts)
    bars = []
    for i, start in enumerate(starts):
        n = counts.get(start, 0)
        h = plot_h * n / top
        bars.append(Bar(round(LEFT + i * step + step * 0.1, 1), round(TOP + plot_h - h, 1),
                        round(max(step * 0.8, 1), 1), round(h, 1), n, start))
    every = max(1, -(-len(starts) // 8))
    ticks = [(round(LEFT + i * step + step / 2, 1),
              f"{s:%m-%d %H:%M}" if i == 0 or s.date() != starts[i - every].date() else f"{s:%H:%M}")
             for i, s in enumerate(starts) if i % every == 0]
    levels = [(round(TOP + plot_h * (1 - v / top), 1), v) for v in sorted({0, -(-top // 2), top})]
    return Growth(bars, ticks, levels)


@dataclass
class Chain:
    post: Post
    reposts: list[Chain] = field(default_factory=list)


def repost_chains(posts: list[Post]) -> list[Chain]:
    """Weibo posts of the event as trees by Post.repost_of, the root of each tree first; a post alone is no chain."""
    weibo = {p.id: p for p in posts if p.platform == "weibo"}
    children: dict[str, list[Post]] = {}
    for p in weibo.values():
        if p.repost_of:
            children.setdefault(p.repost_of, []).append(p)

    def grow(post: Post, depth: int, seen: set[str]) -> Chain:
        below = [c for c in children.get(post.id, []) if c.id not in seen] if depth < CHAIN_DEPTH else []
        return Chain(post, [grow(c, depth + 1, seen | {c.id}) for c in sorted(below, key=lambda c: c.time)])

    roots = [p for p in weibo.values() if not p.repost_of or p.repost_of not in weibo]
    # A root that reposts a post outside the event still shows what it reposted.
    return [grow(p, 0, {p.id}) for p in sorted(roots, key=lambda p: p.time) if children.get(p.id) or p.repost_of]


def event_routes(store: Store, templates: Environment, desk: AlertDesk, event_alerts: EventAlerts) -> list[Route]:
    templates.filters.update(post_path=post_path)

    def event_page(request: Request) -> HTMLResponse:
        event_id = request.path_params["event_id"]
        event = store.get_event(event_id)
        if event is None:
            page = templates.get_template("notice.html").render(
                heading="没有这个事件", message=f"事件 {event_id} 不在库中。", advice="请从总览或搜索结果中选择。",
                alert_id=None)
            return HTMLResponse(page, status_code=404)
        line = timeline(store, {"event_id": event.id})
        event = line.event or event  # with its posts' labels as they are now
        alerts = [desk.labelled(a) for a in event_alerts(event)]
        return HTMLResponse(templates.get_template("event.html").render(
            event=event, timeline=line, growth=growth(event.per_10min), chains=repost_chains(line.posts),
            alerts=alerts, sentiments=SENTIMENTS, event_status=EVENT_STATUS, now=now()))

    return [Route("/events/{event_id}", event_page)]
