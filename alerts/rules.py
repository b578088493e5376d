"""Rule types. Each is a small class with one job: say which posts to look at, and whether one fires."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

import settings as config
from store.base import SearchQuery
from alerts.health import BLOCKED, SILENT, SourceHealth
from models import Post


@dataclass
class Match:
    reason: str
    terms: list[str] = field(default_factory=list)
    score: float | None = None


class Rule(ABC):
    type: ClassVar[str]

    def __init__(self, spec: config.Rule, default_recipients: list[str]) -> None:
        self.name = spec.name
        self.scheme = spec.scheme
        self.severity = spec.severity
        self.max_age = timedelta(seconds=spec.max_age)
        self.recipients = spec.recipients or default_recipients
        self.spec = spec

    def query(self, since: datetime, limit: int = 500, offset: int = 0) -> SearchQuery:
        """The candidates: posts of the rule's scheme crawled since the last evaluation."""
        return SearchQuery(scheme=self.scheme, crawled_since=since, limit=limit, offset=offset)

    def match(self, post: Post, at: datetime) -> Match | None:
        # A first crawl of a backlog must not flood the officers with old news.
        if at - post.time > self.max_age:
            return None
        return self.check(post)

    @abstractmethod
    def check(self, post: Post) -> Match | None: ...


class KeywordRule(Rule):
    """Sensitive terms (爆炸, 泄漏 …) in a post of the scheme."""

    type = "keyword"

    def check(self, post: Post) -> Match | None:
        text = post.text.lower()
        found = [t for t in self.spec.terms if t.lower() in text]
        return Match(reason=f"敏感词：{'、'.join(found)}", terms=found) if found else None


class NegativeRule(Rule):
    """A post of the scheme whose sentiment is negative."""

    type = "negative"

    def check(self, post: Post) -> Match | None:
        if post.sentiment is None:
            return None
        if post.sentiment.label == "negative" or post.sentiment.score < self.spec.threshold:
            return Match(reason=f"负面情绪（正面概率 {post.sentiment.score:.2f}）", score=post.sentiment.score)
        return None


class SourceDownRule:
    """A source blocked or silent for longer than its `alert_after` window. One alert per outage: the
    outage's start is part of the alert's key, so a source that recovers and breaks again alerts anew."""

    name = "source-health"
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


RULE_TYPES: dict[str, type[Rule]] = {cls.type: cls for cls in (KeywordRule, NegativeRule)}


def build_rules(settings: config.Settings) -> list[Rule]:
    return [RULE_TYPES[spec.type](spec, settings.alerts.recipients) for spec in settings.alerts.rules]
