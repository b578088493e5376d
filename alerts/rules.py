"""Rule types. Each is a small class with one job: say what to look at, and whether it fires.

Post rules (keyword, negative, tier) judge one post at a time; an event rule judges an event of its scheme; a
spike rule judges the scheme's negative posts of the last window against their usual number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

import settings as config
from alerts.health import BLOCKED, SILENT, SourceHealth
from alerts.labels import TIER_LABELS, sentiment_text
from analysis.schemes import SchemeMatcher
from models import Event, Post
from store.base import SearchQuery, Store


@dataclass
class Match:
    reason: str
    terms: list[str] = field(default_factory=list)


class Rule(ABC):
    type: ClassVar[str]

    def __init__(self, spec: config.Rule, alerts: config.Alerts) -> None:
        self.name = spec.name
        self.title = spec.title
        self.scheme = spec.scheme
        self.severity = spec.severity
        self.max_age = timedelta(seconds=spec.max_age)
        self.recipients = spec.recipients or alerts.recipients
        self.channels = spec.channels
        self.realert = timedelta(seconds=spec.realert) if spec.realert else None
        self.update_every = timedelta(seconds=spec.update_every or alerts.update_every)
        self.escalate_after = timedelta(seconds=spec.escalate_after) if spec.escalate_after else None
        self.escalation = spec.escalation
        self.spec = spec


class PostRule(Rule):
    # An official statement answers the story; it is never itself the news that alerts.
    skips_official: ClassVar[bool] = True

    def query(self, since: datetime, limit: int = 500, offset: int = 0) -> SearchQuery:
        """The candidates: posts of the rule's scheme crawled since the last evaluation."""
        return SearchQuery(scheme=self.scheme, crawled_since=since, limit=limit, offset=offset)

    def match(self, post: Post, at: datetime) -> Match | None:
        # A first crawl of a backlog must not flood the officers with old news.
        if at - post.time > self.max_age or (post.official and self.skips_official):
            return None
        return self.check(post)

    @abstractmethod
    def check(self, post: Post) -> Match | None: ...


class KeywordRule(PostRule):
    """Sensitive terms (爆炸, 泄漏 …) in a post of the scheme, unless an `exclude` term says it is something else
    (应急演练, 模拟泄漏) or a `near` pair is not close together."""

    type = "keyword"

    def __init__(self, spec: config.Rule, alerts: config.Alerts) -> None:
        super().__init__(spec, alerts)
        # The same matching as a watch scheme's: case and traditional / simplified characters do not matter.
        self.matcher = SchemeMatcher([config.Scheme(name=spec.name, keywords=spec.terms, exclude=spec.exclude,
                                                    near=spec.near)])

    def check(self, post: Post) -> Match | None:
        matched = self.matcher.match(post.text)
        if not matched:
            return None
        found = [t for t in matched[0].terms if t in self.spec.terms]
        return Match(reason=f"出现“{'、'.join(found)}”", terms=found)


class NegativeRule(PostRule):
    """A post of the scheme labelled negative, as every count and page calls it. `threshold` only narrows it to
    the negative posts whose score (their lean, 0 = negative, 1 = positive) is below it."""

    type = "negative"

    def check(self, post: Post) -> Match | None:
        sentiment, threshold = post.sentiment, self.spec.threshold
        if sentiment is None or sentiment.label != "negative":
            return None
        if threshold is not None and sentiment.score >= threshold:
            return None
        return Match(reason=f"情感为{sentiment_text(sentiment.label, sentiment.score)}")


class TierRule(PostRule):
    """A post by a source of a watched tier (central or provincial media), or by a verified account with more
    than `min_followers` followers: what they say reaches many."""

    type = "tier"
    skips_official = False  # a central outlet reporting the official answer still reaches the whole country

    def check(self, post: Post) -> Match | None:
        if post.source_tier in self.spec.tiers:
            by = f"（{post.author.name}）" if post.author.name else ""
            return Match(reason=f"{TIER_LABELS[post.source_tier]}发布：{post.source}{by}")
        followers = post.author.followers or 0
        if post.author.verified and followers > self.spec.min_followers:
            return Match(reason=f"认证账号 {post.author.name or post.source} 发布（粉丝 {followers:,}）")
        return None


class EventRule(Rule):
    """An event of the scheme that has grown big, fast or risky."""

    type = "event"

    def check(self, event: Event, at: datetime) -> Match | None:
        if at - event.last_seen > self.max_age:
            return None
        spec = self.spec
        why = []
        if spec.min_posts is not None and event.posts >= spec.min_posts:
            why.append(f"事件已有 {event.posts} 条")
        latest = event.per_hour[max(event.per_hour)] if event.per_hour else 0
        if spec.posts_per_hour is not None and latest >= spec.posts_per_hour:
            why.append(f"最近一小时 {latest} 条")
        if spec.min_risk is not None and event.risk >= spec.min_risk:
            why.append(f"风险 {event.risk:.2f}")
        return Match(reason="，".join(why)) if why else None


@dataclass
class Spike:
    match: Match
    posts: list[Post]  # the window's negative posts, newest first (as many as one page holds)


class SpikeRule(Rule):
    """The scheme's negative posts of the last `window` reach `factor` times their mean per window over the
    `baseline_days` before it, and at least `min_count`."""

    type = "spike"
    PAGE = 200

    def __init__(self, spec: config.Rule, alerts: config.Alerts) -> None:
        super().__init__(spec, alerts)
        # A spike lasts: without this, each run in it could open an alert for whichever story leads it.
        self.realert = self.realert or timedelta(seconds=spec.window)

    def check(self, store: Store, at: datetime) -> Spike | None:
        spec = self.spec
        window = timedelta(seconds=spec.window)
        recent = store.search(SearchQuery(scheme=self.scheme, sentiment="negative", since=at - window, until=at,
                                          limit=self.PAGE))
        if recent.total < spec.min_count:
            return None
        start = at - window - timedelta(days=spec.baseline_days)
        before = store.count(SearchQuery(scheme=self.scheme, sentiment="negative", since=start, until=at - window))
        baseline = before / (spec.baseline_days * 86400 / spec.window)
        if recent.total < spec.factor * baseline:
            return None
        hours = spec.window / 3600
        span = f"{hours:g} 小时" if hours >= 1 else f"{spec.window / 60:g} 分钟"
        return Spike(Match(reason=f"负面帖 {span}内 {recent.total} 条，平时约 {baseline:.1f} 条"), recent.posts)


class SourceDownRule:
    """A source blocked or silent for longer than its `alert_after` window. One alert per outage: the
    outage's start is part of the alert's key, so a source that recovers and breaks again alerts anew."""

    name = "source-health"
    title = "采集源故障"
    severity = "high"

    def __init__(self, admins: list[str]) -> None:
        self.recipients = admins

    def key(self, health: SourceHealth) -> str:
        assert health.outage_since is not None
        return f"source:{health.source}:{health.outage_since.isoformat()}"

    def check(self, health: SourceHealth, source: config.Source, at: datetime) -> Match | None:
        status = health.status(at, source.alert_window)
        if status not in (BLOCKED, SILENT) or health.down_for(at) < source.alert_window:
            return None
        hours = health.down_for(at) / 3600
        what = f"被封禁（{health.error_class}）" if status == BLOCKED else "无新数据"
        return Match(reason=f"采集源{what}已 {hours:.1f} 小时，连续 {health.consecutive_failures} 次采集无结果")


RULE_TYPES: dict[str, type[Rule]] = {cls.type: cls for cls in (KeywordRule, NegativeRule, TierRule, EventRule,
                                                                 SpikeRule)}


def build_rules(settings: config.Settings) -> list[Rule]:
    return [RULE_TYPES[spec.type](spec, settings.alerts) for spec in settings.alerts.rules]
