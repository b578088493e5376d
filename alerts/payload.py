"""What a delivery says (the payload every notifier reads), built from an alert's posts and event.

Keys every payload has: alert_id, alert_key, kind, severity, severity_label, title, scheme, summary, reasons,
url, alert_url, context, risk (alert_id, alert_key and alert_url are added as it is sent). Mail reads more:
rules, source (the id) and outlet (its name for people), source_tier, tier_label, platform, author, published,
excerpt, reach, event, responses, posts, new_posts, change, level and level_recipients; mail and chat show
sentiment (the post's label, its score beside it as a lean) when it is there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.labels import PLATFORM_LABELS, SEVERITY_LABELS, TIER_LABELS, sentiment_text
from models import Event, OutletNames, Post

EXCERPT = 280
POSTS_KEPT = 10  # newest posts listed in an alert
STAMP = "%Y-%m-%d %H:%M"


def reason_line(reason: dict[str, str]) -> str:
    return f"{reason['title']}：{reason['reason']}"


def summary(reasons: list[dict[str, str]]) -> str:
    return "；".join(reason_line(r) for r in reasons)


# The outlet's name as people know it; the source's id when the crawl found none (alerts know no display names:
# a source's display_name reaches its posts as their outlet when they are crawled).
outlet = OutletNames()


def post_line(post: Post) -> dict[str, Any]:
    return {"id": post.id, "time": post.time.strftime(STAMP), "source": post.source, "outlet": outlet(post),
            "author": post.author.name, "title": title_of(post), "url": post.url}


def reach(post: Post, event: Event | None) -> str:
    parts = []
    if post.author.followers:
        parts.append(f"作者粉丝 {post.author.followers:,}")
    for label, value in (("转发", post.metrics.reposts), ("评论", post.metrics.comments),
                         ("点赞", post.metrics.likes), ("阅读", post.metrics.views)):
        if value:
            parts.append(f"{label} {value:,}")
    if event is not None:
        platforms = "、".join(f"{name} {n}" for name, n in platform_counts(event).items())
        parts.append(f"事件共 {event.posts} 条（{platforms}）" if platforms else f"事件共 {event.posts} 条")
    return " · ".join(parts) or "—"


def context(post: Post, event: Event | None, position: int | None) -> str:
    """One line: where this post stands in its story ("本事件第 3 条，首发 14:44 河西小区业主")."""
    if event is None:
        return f"单条帖子（未归入事件），{_clock(post.time, post.time)} {post.author.name or post.source} 发布"
    place = f"本事件第 {position} 条" if position else f"本事件共 {event.posts} 条"
    return f"{place}，首发 {_clock(event.first_seen, post.time)} {event.first_poster}"


def _clock(moment: datetime, beside: datetime) -> str:
    """The time of day, with the date when it is another day than `beside`'s."""
    return moment.strftime("%H:%M" if moment.date() == beside.date() else "%m-%d %H:%M")


def platform_counts(event: Event) -> dict[str, int]:
    """Posts by platform, named in Chinese, the most first."""
    counts: dict[str, int] = {}
    for platform, n in event.by_platform.items():
        label = PLATFORM_LABELS.get(platform, platform)  # rss and news are both 新闻网站: one count
        counts[label] = counts.get(label, 0) + n
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def event_facts(event: Event) -> dict[str, Any]:
    return {
        "id": event.id, "title": event.title, "posts": event.posts, "first_seen": event.first_seen.strftime(STAMP),
        "last_seen": event.last_seen.strftime(STAMP), "first_poster": event.first_poster, "growth": event.growth,
        "keywords": event.keywords[:5], "risk": event.risk,
        "by_platform": platform_counts(event),
        "by_tier": {TIER_LABELS.get(tier, tier): n for tier, n in sorted(event.by_tier.items(), key=lambda kv: -kv[1])},
        "by_sentiment": event.by_sentiment,
    }


def response_line(post: Post) -> dict[str, Any]:
    return {"time": post.time.strftime(STAMP), "source": post.author.name or outlet(post),
            "title": title_of(post), "url": post.url}


def title_of(post: Post) -> str:
    return post.title or post.content[:60]


def restated(severity: str, reasons: list[dict[str, str]]) -> dict[str, Any]:
    """The parts of a payload that say how bad it is and why."""
    return {"severity": severity, "severity_label": SEVERITY_LABELS[severity], "summary": summary(reasons),
            "reasons": [reason_line(r) for r in reasons], "rules": reasons}


def alert_payload(*, title: str, severity: str, scheme: str, reasons: list[dict[str, str]], subject: Post,
                  event: Event | None, position: int | None, posts: list[dict[str, Any]], responses: list[Post],
                  dashboard_url: str, scheme_label: str = "") -> dict[str, Any]:
    """What the alert says now. `subject` is the post it is about (its newest that fed it); `posts` the newest
    posts that fed it, newest first; `scheme_label` the scheme's title people read (default its name)."""
    risk = event.risk if event is not None else subject.risk
    return {
        **restated(severity, reasons), "scheme": scheme, "scheme_label": scheme_label or scheme, "title": title, "url": subject.url, "source": subject.source,
        "outlet": outlet(subject), "platform": subject.platform,
        "platform_label": PLATFORM_LABELS.get(subject.platform, subject.platform),
        "source_tier": subject.source_tier, "tier_label": TIER_LABELS.get(subject.source_tier, subject.source_tier),
        "author": subject.author.name, "published": subject.time.strftime(STAMP),
        "excerpt": subject.content[:EXCERPT], "post_id": subject.id, "reach": reach(subject, event),
        "context": context(subject, event, position), "risk": round(risk, 3) if risk is not None else None,
        "sentiment": sentiment_text(subject.sentiment.label, subject.sentiment.score) if subject.sentiment else None,
        "event": event_facts(event) if event is not None else None,
        "responses": [response_line(p) for p in responses], "posts": posts[:POSTS_KEPT],
        "dashboard_url": dashboard_url,
    }
