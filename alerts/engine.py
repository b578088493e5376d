"""The alert engine: run every rule over what arrived since its last run, then empty the outbox."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import settings as config
from alerts.notifiers import ChannelDown, Notifier
from alerts.notifiers.email import EmailNotifier
from alerts.rules import Match, Rule, SourceDownRule, build_rules
from alerts.state import AlertState, Delivery, NewAlert
from store.base import Store
from alerts.health import BLOCKED, SourceHealth, SourceHealthLog
from models import Post, now

log = logging.getLogger(__name__)

# Posts carry the time they were crawled, and reach the store when their crawl ends, which can be
# minutes later. Looking back this far past the last run catches them; the unique key keeps it cheap.
LOOKBACK = timedelta(minutes=20)
PAGE = 500
EXCERPT = 280


class AlertEngine:
    def __init__(self, settings: config.Settings, store: Store, state: AlertState,
                 notifiers: list[Notifier] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.state = state
        self.rules = build_rules(settings)
        self.notifiers = {n.channel: n for n in (notifiers or [EmailNotifier(settings.smtp)])}
        self.dashboard_url = settings.alerts.dashboard_url or settings.dashboard.url
        for rule in self.rules:
            if not rule.recipients:
                log.warning("alert rule %r has no recipients: its alerts are recorded but not sent", rule.name)
        self.health = SourceHealthLog(state.engine)
        self.source_rule = SourceDownRule(settings.alerts.admins)
        if settings.sources and not settings.alerts.admins:
            log.warning("alerts.admins is empty: alerts about broken sources are recorded but not sent")

    def run_once(self, at: datetime | None = None) -> list[int]:
        created = self.evaluate(at)
        self.deliver(at)
        return created

    # ---- evaluation ----
    def evaluate(self, at: datetime | None = None) -> list[int]:
        at = at or now()
        created: list[int] = []
        for rule in self.rules:
            try:
                created += self._evaluate(rule, at)
            except Exception:
                log.exception("alert rule %r failed; the other rules go on", rule.name)
        try:
            created += self.evaluate_sources(at)
        except Exception:
            log.exception("source health evaluation failed; it runs again at the next tick")
        return created

    def evaluate_sources(self, at: datetime) -> list[int]:
        """Alert the admins about sources down too long; resolve those alerts once a source serves again."""
        created = []
        for source in self.settings.sources:
            health = self.health.get(source.name)
            if not source.enabled or health is None:
                continue
            if health.outage_since is None:
                if health.alert_id is not None:
                    self.state.resolve_by_system(health.alert_id, at, f"{source.name} 恢复采集")
                    self.health.set_alert(source.name, None)
                continue
            match = self.source_rule.check(health, source, at)
            if match and (alert_id := self._create_source_alert(source, health, match, at)) is not None:
                self.health.set_alert(source.name, alert_id)
                created.append(alert_id)
        return created

    def _create_source_alert(self, source: config.Source, health: SourceHealth, match: Match,
                             at: datetime) -> int | None:
        rule = self.source_rule
        status = health.status(at, source.alert_window)
        title = f"{source.name} {'被封禁' if status == BLOCKED else '无新数据'}"
        stamp = "%Y-%m-%d %H:%M"
        payload: dict[str, Any] = {
            "template": "source", "rule": rule.name, "scheme": "采集源", "severity": rule.severity,
            "reason": match.reason, "title": title, "url": source.url, "source": source.name,
            "platform": source.platform, "status": status, "error_class": health.error_class or "",
            "message": health.message, "since": health.outage_since.strftime(stamp) if health.outage_since else "",
            "last_success": health.last_success.strftime(stamp) if health.last_success else "",
            "last_attempt": health.last_attempt.strftime(stamp), "failures": health.consecutive_failures,
            "per_run": [r["items"] for r in health.runs], "dashboard_url": self.dashboard_url,
        }
        channels = [("email", rule.recipients)] if rule.recipients else []
        alert_id = self.state.create_alert(
            NewAlert(rule.name, "采集源", rule.key(health), rule.severity, title, match.reason, source.url, payload),
            channels, at,
        )
        if alert_id is not None:
            log.warning("alert %d: source %s %s: %s", alert_id, source.name, status, match.reason)
        return alert_id

    def _evaluate(self, rule: Rule, at: datetime) -> list[int]:
        last = self.state.checkpoint(rule.name)
        since = (last - LOOKBACK) if last else (at - rule.max_age)
        created = []
        offset = 0
        while True:
            page = self.store.search(rule.query(since, PAGE, offset))
            for post in page.posts:
                match = rule.match(post, at)
                if match and (alert_id := self._create(rule, post, match, at)) is not None:
                    created.append(alert_id)
            offset += PAGE
            if offset >= page.total or not page.posts:
                break
        self.state.set_checkpoint(rule.name, at)
        return created

    def _create(self, rule: Rule, post: Post, match: Match, at: datetime) -> int | None:
        title = post.title or post.content[:60]
        payload: dict[str, Any] = {
            "rule": rule.name, "scheme": rule.scheme, "severity": rule.severity, "reason": match.reason,
            "terms": match.terms, "score": match.score, "title": title, "url": post.url, "source": post.source,
            "platform": post.platform, "source_tier": post.source_tier, "author": post.author.name,
            "published": post.time.strftime("%Y-%m-%d %H:%M"), "excerpt": post.content[:EXCERPT],
            "post_id": post.id, "dashboard_url": self.dashboard_url,
        }
        channels = [("email", rule.recipients)] if rule.recipients else []
        alert_id = self.state.create_alert(
            NewAlert(rule.name, rule.scheme, post.id, rule.severity, title, match.reason, post.url, payload),
            channels, at,
        )
        if alert_id is not None:
            log.info("alert %d (%s) on %s: %s", alert_id, rule.name, post.url, match.reason)
        return alert_id

    # ---- delivery ----
    def deliver(self, at: datetime | None = None, deadline: float | None = None,
                cancel: threading.Event | None = None) -> int:
        """Send what is due, one session per channel; returns how many went out. A failure is retried later
        with backoff. Past the `deadline` (time.monotonic()) or once `cancel` is set, what is left is not
        tried: it stays due, its attempts uncounted, for the next round."""
        at = at or now()
        batches: dict[str, list[Delivery]] = {}
        for delivery in self.state.due_deliveries(at):
            batches.setdefault(delivery.channel, []).append(delivery)

        def more() -> bool:
            return not (cancel and cancel.is_set()) and (deadline is None or time.monotonic() < deadline)

        return sum(self._deliver(channel, batch, at, more) for channel, batch in batches.items())

    def _deliver(self, channel: str, batch: list[Delivery], at: datetime, more: Callable[[], bool]) -> int:
        notifier = self.notifiers.get(channel)
        if notifier is None:
            self._failed(batch, f"no notifier for channel {channel!r}", at)
            return 0
        sent = 0
        with notifier.session() as session:
            for n, delivery in enumerate(batch):
                if not more():
                    log.info("delivery round over; %d %s deliveries wait for the next", len(batch) - n, channel)
                    break
                try:
                    session.send({**delivery.payload, "alert_id": delivery.alert_id, "alert_key": delivery.alert_key,
                                  "message_key": delivery.key}, delivery.recipients)
                except ChannelDown as exc:  # the rest of the batch would fail the same way: all back off
                    self._failed(batch[n:], f"{channel} channel down: {exc}", at)
                    break
                except Exception as exc:  # this alert alone failed: keep its row, try it again later
                    self._failed([delivery], f"{type(exc).__name__}: {exc}", at)
                else:
                    # Recorded at once, before the next message or the end of the session: a crash now can only
                    # resend the one message whose acceptance had not yet been written down.
                    self.state.mark_sent(delivery.id, at)
                    sent += 1
        return sent

    def _failed(self, batch: list[Delivery], error: str, at: datetime) -> None:
        delays = []
        for delivery in batch:
            delays.append(min(self.settings.alerts.retry_max, self.settings.alerts.retry_base * 2 ** delivery.attempts))
            self.state.mark_failed(delivery.id, error, at + timedelta(seconds=delays[-1]))
        log.warning("delivery of alert %s failed (%s); retry in %ds or more",
                    ", ".join(str(d.alert_id) for d in batch), error, min(delays))
