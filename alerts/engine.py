"""The alert engine: judge what arrived since the last run, keep one alert per event, then empty the outbox.

Each run reads the posts crawled since the last one, scheme by scheme, and lets every post rule judge each post
at once: the first post of an event that any rule takes opens the event's one alert, listing every rule's
reason. Later posts of the event feed that alert; event and spike rules add their reasons to it. Mail goes out
when an alert opens, when its severity rises or it is reopened, as a digest while its event grows, and to the
next escalation level while nobody acknowledges it. In the quiet hours only critical mail goes; the rest is
held, and sent as one digest when they end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import settings as config
from alerts.copies import publish
from alerts.evidence import EvidenceQueue
from alerts.health import BLOCKED, SourceHealth, SourceHealthLog
from alerts.labels import SEVERITY_LABELS, STATE_LABELS, severity_rank
from alerts.notifiers import ChannelDown, Notifier, build_notifiers
from alerts.payload import alert_payload, post_line, response_line, restated, summary, title_of
from alerts.rules import EventRule, Match, PostRule, Rule, SourceDownRule, SpikeRule, build_rules
from alerts.state import AlertChange, AlertState, Delivery, NewAlert, Outgoing
from alerts.tokens import Signer
from models import Event, Post, now
from store.base import EventQuery, SearchQuery, Store, StoreError

log = logging.getLogger(__name__)

# Posts carry the time they were crawled, and reach the store when their crawl ends, which can be
# minutes later. Looking back this far past the last run catches them; posts that fed an alert are skipped.
LOOKBACK = timedelta(minutes=20)
PAGE = 500


def post_key(scheme: str, post: Post) -> str:
    return f"event:{scheme}:{post.event_id}" if post.event_id else f"post:{scheme}:{post.id}"


@dataclass
class Finding:
    """What one run learnt about one alert's subject (an event of a scheme, or a post without an event)."""

    key: str
    scheme: str
    event_id: str | None
    posts: list[Post] = field(default_factory=list)  # new posts to feed it, oldest first
    hits: dict[str, tuple[Rule, Match]] = field(default_factory=dict)  # by rule name
    opener: Post | None = None  # the first post a rule took
    subject: Post | None = None  # what a spike points at, when no post of its own feeds it
    answered: bool = False  # an official statement on it arrived


class AlertEngine:
    def __init__(self, settings: config.Settings, store: Store, state: AlertState,
                 notifiers: list[Notifier] | None = None, signer: Signer | None = None,
                 evidence: EvidenceQueue | None = None) -> None:
        self.settings = settings
        self.evidence = evidence  # each new alert's post page is saved as it stands now
        self.store = store
        self.state = state
        self.rules = build_rules(settings)
        self.by_name = {rule.name: rule for rule in self.rules}
        self.post_rules: dict[str, list[PostRule]] = {}
        for rule in self.rules:
            if isinstance(rule, PostRule):
                self.post_rules.setdefault(rule.scheme, []).append(rule)
        self.dashboard_url = settings.alerts.dashboard_url or settings.dashboard.url
        self.signer = signer or Signer.from_settings(settings)
        self.notifiers = {n.channel: n for n in (notifiers or build_notifiers(settings, self.signer))}
        self.quiet = settings.alerts.quiet_span()
        for rule in self.rules:
            if rule.channels == ["email"] and not rule.recipients:
                log.warning("alert rule %r has no recipients: its alerts are recorded but not sent", rule.name)
        self.health = SourceHealthLog(state.engine)
        self.source_rule = SourceDownRule(settings.alerts.admins)
        if settings.sources and not settings.alerts.admins:
            log.warning("alerts.admins is empty: alerts about broken sources are recorded but not sent")

    def run_once(self, at: datetime | None = None) -> list[int]:
        alerted = self.evaluate(at)
        self.deliver(at)
        self.publish()
        return alerted

    def publish(self) -> int:
        """Copy what changed in the alerts into the store (alerts.copies); a store that is down is logged and
        tried again at the next round, without holding anything else up."""
        try:
            return publish(self.state, self.store)
        except StoreError as exc:
            log.warning("alerts not copied into the store (%s); they are copied at the next round", exc)
        except Exception:
            log.exception("alerts not copied into the store; they are copied at the next round")
        return 0

    # ---- evaluation ----
    def evaluate(self, at: datetime | None = None) -> list[int]:
        """One run of every rule, follow-up and source check; returns the alerts that queued mail."""
        at = at or now()
        run = _Run(self.store)
        findings: dict[str, Finding] = {}
        for scheme, rules in self.post_rules.items():
            self._guard(f"post rules of scheme {scheme!r}", run, [r.name for r in rules],
                        lambda: self._scan_posts(scheme, rules, at, findings, run))
        for rule in self.rules:
            if isinstance(rule, EventRule):
                self._guard(f"alert rule {rule.name!r}", run, [rule.name],
                            lambda rule=rule: self._scan_events(rule, at, findings, run))  # type: ignore[misc]
            elif isinstance(rule, SpikeRule):
                self._guard(f"alert rule {rule.name!r}", run, [rule.name],
                            lambda rule=rule: self._spike(rule, at, findings))  # type: ignore[misc]
        alerted: list[int] = []
        kept = True
        for finding in findings.values():
            try:
                if (alert_id := self._apply(finding, at, run)) is not None:
                    alerted.append(alert_id)
            except Exception:
                kept = False
                log.exception("alert %s could not be updated; its posts are read again at the next run", finding.key)
        if kept:  # else the next run reads the same posts again: what fed an alert is skipped then
            for rule in self.rules:
                if rule.name not in run.failed:
                    self.state.set_checkpoint(rule.name, at)
        for step in (self._follow_up, self._morning, self.evaluate_sources):
            try:
                alerted += step(at)
            except Exception:
                log.exception("%s failed; it runs again at the next tick", step.__name__.strip("_"))
        return alerted

    @staticmethod
    def _guard(what: str, run: _Run, rules: list[str], step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:
            run.failed.update(rules)
            log.exception("%s failed; the other rules go on", what)

    def _since(self, rule: Rule, at: datetime) -> datetime:
        last = self.state.checkpoint(rule.name)
        return (last - LOOKBACK) if last else (at - rule.max_age)

    def _scan_posts(self, scheme: str, rules: list[PostRule], at: datetime, findings: dict[str, Finding],
                    run: _Run) -> None:
        since = min(self._since(rule, at) for rule in rules)
        posts: dict[str, Post] = {}
        offset = 0
        while True:
            page = self.store.search(SearchQuery(scheme=scheme, crawled_since=since, limit=PAGE, offset=offset))
            posts.update((p.id, p) for p in page.posts)
            offset += PAGE
            if offset >= page.total or not page.posts:
                break
        fed = self.state.fed(scheme, posts)
        fresh = sorted((p for p in posts.values() if p.id not in fed), key=lambda p: p.time)
        known = self.state.by_keys({post_key(scheme, p) for p in fresh})
        waiting: dict[str, list[Post]] = {}  # posts of events no rule has taken yet
        for post in fresh:
            run.posts[post.id] = post
            key = post_key(scheme, post)
            finding, alert = findings.get(key), known.get(key)
            if post.official:
                if finding or alert:
                    findings.setdefault(key, Finding(key, scheme, post.event_id)).answered = True
                continue
            hits = {}
            for rule in rules:
                if rule.name in run.failed:
                    continue
                try:
                    match = rule.match(post, at)
                except Exception:
                    run.failed.add(rule.name)
                    log.exception("alert rule %r failed on %s; the other rules go on", rule.name, post.id)
                    continue
                if match:
                    hits[rule.name] = (rule, match)
            # A post that no rule takes still feeds its event's alert once there is one to follow, and so do the
            # event's posts before the one that opens it: whatever order they are read in, they end in it.
            following = (finding is not None and finding.posts) or (alert is not None and alert["state"] != "resolved")
            if hits or following:
                finding = findings.setdefault(key, Finding(key, scheme, post.event_id))
                finding.posts += [*waiting.pop(key, []), post]
                finding.hits.update(hits)
                finding.opener = finding.opener or (post if hits else None)
            elif post.event_id:
                waiting.setdefault(key, []).append(post)

    def _scan_events(self, rule: EventRule, at: datetime, findings: dict[str, Finding], run: _Run) -> None:
        since, offset = self._since(rule, at), 0
        while True:
            page = self.store.events(EventQuery(scheme=rule.scheme, since=since, limit=PAGE, offset=offset))
            for event in page:
                run.events[event.id] = event
                if match := rule.check(event, at):
                    key = f"event:{rule.scheme}:{event.id}"
                    findings.setdefault(key, Finding(key, rule.scheme, event.id)).hits[rule.name] = (rule, match)
            if len(page) < PAGE:
                break
            offset += PAGE

    def _spike(self, rule: SpikeRule, at: datetime, findings: dict[str, Finding]) -> None:
        spike = rule.check(self.store, at)
        if spike is None:
            return
        # The spike is told as part of the story most of its posts belong to.
        events = Counter(p.event_id for p in spike.posts if p.event_id)
        lead = next((p for p in spike.posts if p.event_id == events.most_common(1)[0][0]), None) if events else None
        subject = lead or spike.posts[0]
        key = post_key(rule.scheme, subject)
        finding = findings.setdefault(key, Finding(key, rule.scheme, subject.event_id))
        finding.hits[rule.name] = (rule, spike.match)
        finding.subject = finding.subject or subject

    def _may_open(self, rule: Rule, scheme: str, at: datetime) -> bool:
        """`realert`: a rule adds to a new alert of its scheme at most once per window."""
        if rule.realert is None:
            return True
        return not any(rule.name in {r["rule"] for r in alert["reasons"]}
                       for alert in self.state.opened_since(scheme, at - rule.realert))

    def _apply(self, finding: Finding, at: datetime, run: _Run) -> int | None:
        """Open, feed or reopen the finding's alert; the alert's id when that queued mail."""
        alert = self.state.by_keys([finding.key]).get(finding.key)
        event = run.event(finding.event_id)
        if alert is None:
            hits = {name: hit for name, hit in finding.hits.items() if self._may_open(hit[0], finding.scheme, at)}
            return self._open(finding, hits, event, at, run) if hits else None
        reopen = alert["state"] == "resolved" and bool(finding.hits) and (
            finding.opener is not None or (event is not None and event.last_seen > alert["resolved_at"]))
        if alert["state"] == "resolved" and not reopen:
            if finding.answered:
                responses = [response_line(post) for post in self._responses(event, run)]
                self.state.update_payload(alert["id"], {**alert["payload"], "responses": responses})
            return None
        reasons = _merged(alert["reasons"], finding.hits)
        severity = max([alert["severity"], *(rule.severity for rule, _ in finding.hits.values())], key=severity_rank)
        subject = finding.posts[-1] if finding.posts else (finding.subject or run.post(alert["payload"].get("post_id")))
        lines = [post_line(p) for p in reversed(finding.posts)]
        known = {line["id"] for line in lines}
        posts = [*lines, *(line for line in alert["payload"].get("posts", []) if line.get("id") not in known)]
        if subject is not None:
            payload = self._payload(alert["title"], alert["scheme"], severity, reasons, subject, event, posts, run)
        else:  # its post is gone from the store: what it said stands, with the new reasons
            payload = {**alert["payload"], **restated(severity, reasons)}
        mail = None
        if reopen:
            mail = self._mail("update", {**payload, "change": "已解决的预警有新情况，已重新打开"},
                              self._audience(reasons), severity, at)
        elif severity_rank(severity) > severity_rank(alert["severity"]):
            change = f"严重程度由{SEVERITY_LABELS[alert['severity']]}升为{SEVERITY_LABELS[severity]}"
            mail = self._mail("update", {**payload, "change": change}, self._audience(reasons), severity, at)
        self.state.change(alert["id"], AlertChange(severity, summary(reasons), reasons, payload,
                                                   [p.id for p in finding.posts], reopen), mail, at)
        if reopen:
            log.info("alert %d reopened: %s", alert["id"], summary(reasons))
        return alert["id"] if mail else None

    def _open(self, finding: Finding, hits: dict[str, tuple[Rule, Match]], event: Event | None, at: datetime,
              run: _Run) -> int | None:
        reasons = _merged([], hits)
        severity = max((rule.severity for rule, _ in hits.values()), key=severity_rank)
        subject = finding.opener or finding.subject or (run.post(event.first_post) if event is not None else None)
        if subject is None:
            log.warning("alert %s not opened: its first post %s is not in the store", finding.key,
                        event.first_post if event else "")
            return None
        posts = [post_line(p) for p in reversed(finding.posts)]
        # Named after the post that opened it (an event's own title is its first post's, which may be any that
        # arrived first, even the official answer); an alert an event rule opened is named after the event.
        title = title_of(subject) if finding.opener or event is None else event.title
        payload = self._payload(title, finding.scheme, severity, reasons, subject, event, posts, run)
        lead = next(iter(hits.values()))[0]
        alert_id = self.state.open_alert(
            NewAlert(finding.key, lead.name, finding.scheme, severity, payload["title"], payload["summary"],
                     subject.url, payload, finding.event_id, reasons, [p.id for p in finding.posts]),
            self._mail("open", payload, self._audience(reasons), severity, at), at)
        if alert_id is not None:
            log.info("alert %d (%s) on %s: %s", alert_id, finding.key, subject.url, payload["summary"])
            if self.evidence is not None:
                self.evidence.submit(alert_id, subject)
        return alert_id

    def _payload(self, title: str, scheme: str, severity: str, reasons: list[dict[str, str]], subject: Post,
                 event: Event | None, posts: list[dict[str, Any]], run: _Run) -> dict[str, Any]:
        return alert_payload(title=title, severity=severity, scheme=scheme, reasons=reasons, subject=subject, event=event,
                             position=run.position(subject, event), posts=posts,
                             responses=self._responses(event, run), dashboard_url=self.dashboard_url,
                             scheme_label=next((s.title for s in self.settings.schemes if s.name == scheme), ""))

    @staticmethod
    def _responses(event: Event | None, run: _Run) -> list[Post]:
        """The event's official statements."""
        found = [run.post(post_id) for post_id in (event.responses if event else [])]
        return [post for post in found if post is not None]

    def _audience(self, reasons: list[dict[str, str]]) -> list[tuple[str, list[str]]]:
        """Where an alert's messages go: every recipient of its rules that mail, and every chat channel they name."""
        rules = [self.by_name[r["rule"]] for r in reasons if r["rule"] in self.by_name]
        if not rules:  # rules since removed from the configuration
            return _by_email(self.settings.alerts.recipients)
        addresses = dict.fromkeys(a for rule in rules if "email" in rule.channels for a in rule.recipients)
        chats = dict.fromkeys(channel for rule in rules for channel in rule.channels if channel != "email")
        return [*_by_email(addresses), *((channel, []) for channel in chats)]

    def _mail(self, kind: str, payload: dict[str, Any], rows: list[tuple[str, list[str]]], severity: str,
              at: datetime) -> Outgoing:
        return Outgoing(kind, {**payload, "kind": kind}, rows, held=severity != "critical" and self._quiet(at))

    def _quiet(self, at: datetime) -> bool:
        if self.quiet is None:
            return False
        start, end = self.quiet
        minute = at.hour * 60 + at.minute
        return start <= minute < end if start < end else (minute >= start or minute < end)

    # ---- follow-up: escalation and digests ----
    def _follow_up(self, at: datetime) -> list[int]:
        alerted = []
        for alert in self.state.following():
            rules = [self.by_name[r["rule"]] for r in alert["reasons"] if r["rule"] in self.by_name]
            if alert["state"] == "open" and self._escalate(alert, rules, at):
                alerted.append(alert["id"])
                continue
            every = min((rule.update_every for rule in rules),
                        default=timedelta(seconds=self.settings.alerts.update_every))
            grown = len(alert["post_ids"]) - alert["mailed_posts"]
            if grown > 0 and at - (alert["mailed_at"] or alert["created_at"]) >= every:
                mail = self._mail("digest", {**alert["payload"], "new_posts": grown},
                                  self._audience(alert["reasons"]), alert["severity"], at)
                self.state.follow_up(alert["id"], mail, at)
                alerted.append(alert["id"])
        return alerted

    def _escalate(self, alert: dict[str, Any], rules: list[Rule], at: datetime) -> bool:
        ladders = [rule for rule in rules if rule.escalate_after is not None]
        if not ladders:
            return False
        rule = min(ladders, key=lambda r: r.escalate_after)  # type: ignore[arg-type, return-value]
        level = alert["escalation_level"]
        assert rule.escalate_after is not None
        if level >= len(rule.escalation) or at < alert["opened_at"] + rule.escalate_after * (level + 1):
            return False
        addresses = rule.escalation[level]
        waited = int((at - alert["opened_at"]).total_seconds() // 60)
        change = f"{waited} 分钟无人确认，升级到第 {level + 1} 级"
        payload = {**alert["payload"], "level": level + 1, "level_recipients": addresses, "change": change}
        self.state.follow_up(alert["id"], self._mail("escalation", payload, _by_email(addresses), alert["severity"],
                                                     at), at,
                             escalation_level=level + 1, detail=f"{change}：{'、'.join(addresses)}")
        log.warning("alert %d escalated to level %d: %s", alert["id"], level + 1, ", ".join(addresses))
        return True

    def _morning(self, at: datetime) -> list[int]:
        """Once the quiet hours end, what they held goes as one digest to each recipient."""
        if self._quiet(at):
            return []
        held = self.state.held()
        groups: dict[tuple[str, tuple[str, ...]], dict[int, Delivery]] = {}
        for delivery in held:  # the latest of each alert's held mail says what it says now
            groups.setdefault((delivery.channel, tuple(delivery.recipients)), {})[delivery.alert_id] = delivery
        digests = []
        for (channel, recipients), latest in groups.items():
            items = []
            for alert_id, delivery in latest.items():
                alert = self.state.get(alert_id)
                state = alert["state"] if alert else "open"
                items.append({**delivery.payload, "alert_id": alert_id, "state_label": STATE_LABELS[state],
                              "alert_url": self.signer.page_url(alert_id)})
            severity = max((item["severity"] for item in items), key=severity_rank)
            risks = [item["risk"] for item in items if item.get("risk") is not None]
            payload = {
                "template": "morning", "kind": "digest", "severity": severity,
                "severity_label": SEVERITY_LABELS[severity], "title": f"静默时段预警汇总（{len(items)} 条）",
                "scheme": "、".join(dict.fromkeys(item["scheme"] for item in items)),
                "summary": f"静默时段（{self.settings.alerts.quiet_hours}）暂缓发送的 {len(items)} 条预警",
                "reasons": [f"{item['severity_label']}｜{item['title']}" for item in items], "url": "",
                "alert_url": f"{self.signer.base_url}alerts", "context": "", "risk": max(risks, default=None),
                "items": items, "dashboard_url": self.dashboard_url,
            }
            digests.append((next(iter(latest)), Outgoing("digest", payload, [(channel, list(recipients))])))
        if held:
            self.state.merge_held(held, digests, at)
            log.info("quiet hours over: %d held messages go as %d digests", len(held), len(digests))
        return [alert_id for alert_id, _ in digests]

    # ---- sources ----
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
        reasons = [{"rule": rule.name, "title": rule.title, "reason": match.reason}]
        payload: dict[str, Any] = {
            "template": "source", "rule": rule.name, "scheme": "采集源", **restated(rule.severity, reasons),
            "reason": match.reason, "context": "", "risk": None,
            "title": title, "url": source.url, "source": source.name,
            "platform": source.platform, "status": status, "error_class": health.error_class or "",
            "message": health.message, "since": health.outage_since.strftime(stamp) if health.outage_since else "",
            "last_success": health.last_success.strftime(stamp) if health.last_success else "",
            "last_attempt": health.last_attempt.strftime(stamp), "failures": health.consecutive_failures,
            "per_run": [r["items"] for r in health.runs], "dashboard_url": self.dashboard_url,
        }
        mail = Outgoing("source", {**payload, "kind": "source"}, _by_email(rule.recipients), held=self._quiet(at))
        alert_id = self.state.open_alert(
            NewAlert(rule.key(health), rule.name, "采集源", rule.severity, title, match.reason, source.url, payload,
                     reasons=reasons), mail, at)
        if alert_id is not None:
            log.warning("alert %d: source %s %s: %s", alert_id, source.name, status, match.reason)
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
                    session.send({"alert_url": self.signer.page_url(delivery.alert_id), **delivery.payload,
                                  "alert_id": delivery.alert_id, "alert_key": delivery.alert_key,
                                  "message_key": delivery.key, "thread": delivery.thread}, delivery.recipients)
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


def _by_email(addresses: Iterable[str]) -> list[tuple[str, list[str]]]:
    # Each address its own message: the links in it are signed for that person.
    return [("email", [address]) for address in addresses]


def _merged(reasons: list[dict[str, str]], hits: dict[str, tuple[Rule, Match]]) -> list[dict[str, str]]:
    """One reason per rule, in the order the rules first fired; a rule that fires again says its latest."""
    out = {r["rule"]: r for r in reasons}
    for name, (rule, match) in hits.items():
        out[name] = {"rule": name, "title": rule.title, "reason": match.reason}
    return list(out.values())


class _Run:
    """What one evaluation has read from the store, so that it reads each post and event once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.posts: dict[str, Post] = {}
        self.events: dict[str, Event] = {}
        self.failed: set[str] = set()

    def post(self, post_id: str | None) -> Post | None:
        if not post_id:
            return None
        if post_id not in self.posts:
            found = self.store.get(post_id)
            if found is None:
                return None
            self.posts[post_id] = found
        return self.posts[post_id]

    def event(self, event_id: str | None) -> Event | None:
        if not event_id:
            return None
        if event_id not in self.events:
            found = self.store.get_event(event_id)
            if found is None:
                return None
            self.events[event_id] = found
        return self.events[event_id]

    def position(self, post: Post, event: Event | None) -> int | None:
        """The post's place in its event: posts of the event up to and including it."""
        if event is None:
            return None
        if post.time >= event.last_seen:
            return event.posts
        return self.store.count(SearchQuery(event_id=event.id, until=post.time + timedelta(seconds=1)))
