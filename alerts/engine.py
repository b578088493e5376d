"""The alert engine: run every rule over what arrived since its last run, then empty the outbox."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import settings as config
from alerts.notifiers import Notifier
from alerts.notifiers.email import EmailNotifier
from alerts.rules import Match, Rule, build_rules
from alerts.state import AlertState, NewAlert
from store.base import Store
from yuqing.models import Post, now

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
        self.dashboard_url = (settings.alerts.dashboard_url
                              or f"http://{settings.dashboard.host}:{settings.dashboard.port}/")
        for rule in self.rules:
            if not rule.recipients:
                log.warning("alert rule %r has no recipients: its alerts are recorded but not sent", rule.name)

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
        return created

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
    def deliver(self, at: datetime | None = None) -> int:
        """Send what is due; returns how many went out. A failure is retried later with backoff."""
        at = at or now()
        sent = 0
        for delivery in self.state.due_deliveries(at):
            notifier = self.notifiers.get(delivery.channel)
            try:
                if notifier is None:
                    raise RuntimeError(f"no notifier for channel {delivery.channel!r}")
                notifier.send({**delivery.alert, "alert_id": delivery.alert_id}, delivery.recipients)
            except Exception as exc:  # any failure of the channel: keep the row, try again later
                delay = min(self.settings.alerts.retry_max, self.settings.alerts.retry_base * 2 ** delivery.attempts)
                self.state.mark_failed(delivery.id, f"{type(exc).__name__}: {exc}", at + timedelta(seconds=delay))
                log.warning("delivery %d of alert %d failed (%s); retry in %ds",
                            delivery.id, delivery.alert_id, exc, delay)
            else:
                self.state.mark_sent(delivery.id, at)
                sent += 1
        return sent
