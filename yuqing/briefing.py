"""Briefings made from the running service's (or a command's) store and alert state, and mailed on schedule.

The reports package may not read the alert state: it gets the alerts as plain facts (reports.figures.AlertFacts)
from here, with the Chinese labels the alerts use.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import settings as config
from alerts.labels import PLATFORM_LABELS, SEVERITY_LABELS, STATE_LABELS, TIER_LABELS
from alerts.notifiers.email import connect
from alerts.state import AlertState
from models import SHANGHAI, OutletNames
from reports import render
from reports.figures import AlertFacts, AlertSource, Briefing, Figure, Reader
from reports.period import Period
from yuqing.search import outlet_names
from store.base import Store, StoreError

log = logging.getLogger(__name__)

LABELS = {"severity": SEVERITY_LABELS, "state": STATE_LABELS, "tier": TIER_LABELS, "platform": PLATFORM_LABELS}
RETRY_AFTER = timedelta(minutes=10)  # a mail server that refused waits this long before the next try


def alert_facts(state: AlertState) -> AlertSource:
    """Alerts raised, acknowledged or resolved in [since, until); response times from each alert's history
    (its first acknowledgement and resolution: a reopened alert's row forgets them)."""

    def between(since: datetime, until: datetime) -> list[AlertFacts]:
        found: list[AlertFacts] = []
        offset = 0
        # Most recently changed first: an alert that changed in the period changed at or after its start.
        while page := state.list_alerts(limit=200, offset=offset):
            offset += len(page)
            for alert in page:
                if alert["updated_at"] < since:
                    return found
                history = state.history(alert["id"])
                acked = next((h["at"] for h in history if h["action"] == "ack"), None)
                resolved = next((h["at"] for h in history if h["action"] == "resolve"), None)
                if any(t is not None and since <= t < until for t in (alert["created_at"], acked, resolved)):
                    found.append(AlertFacts(alert["id"], alert["title"], alert["severity"], alert["state"],
                                            alert["created_at"], acked, resolved, alert["event_id"]))
        return found

    return between


def briefing(store: Store, state: AlertState, period: Period, made_at: datetime, scheme: str | None,
             outlets: OutletNames) -> Briefing:
    made = Reader(store, alert_facts(state), PLATFORM_LABELS, scheme or None, outlets).read(period, made_at)
    made.labels = LABELS
    return made


def file_name(period: Period, fmt: str) -> str:
    return f"yuqing-{period.kind}-{period.first.isoformat()}.{fmt}"


class Briefings:
    """Mails each scheduled briefing once: which periods went out is kept in a file beside the store, so a
    restart neither repeats one nor forgets one due while the service was down (the latest of each kind)."""

    def __init__(self, settings: config.Settings, store: Store, state: AlertState) -> None:
        self.settings = settings
        self.store = store
        self.state = state
        self.record = settings.data_dir / "reports-sent.json"
        self._retry_at: datetime | None = None

    def sent(self) -> dict[str, str]:
        try:
            return json.loads(self.record.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:  # a damaged record: better one briefing twice than none
            log.warning("%s is unreadable; briefings may be sent again", self.record)
            return {}

    def due(self, moment: datetime) -> list[Period]:
        sent, local = self.sent(), moment.astimezone(SHANGHAI)
        found = []
        for kind in ("day", "week"):
            when = self.settings.reports.when(kind)
            if when is None:
                continue
            weekday, hour, minute = when
            period = Period.last_complete(kind, local)  # type: ignore[arg-type]
            send_at = datetime.combine(period.end.date() + timedelta(days=weekday or 0), time(hour, minute),
                                       SHANGHAI)
            if local >= send_at and period.key not in sent:
                found.append(period)
        return found

    def check(self, moment: datetime) -> list[Period]:
        """Send what is due; returns what was sent. A failure is logged and tried again later."""
        if self._retry_at is not None and moment < self._retry_at:
            return []
        done = []
        for period in self.due(moment):
            try:
                self.send(period, moment)
            except (OSError, StoreError) as exc:  # smtplib's errors are OSErrors; a cluster may be down
                self._retry_at = moment + RETRY_AFTER
                log.warning("briefing %s not sent (%s); trying again at %s", period.key, exc,
                            self._retry_at.strftime("%H:%M"))
                break
            self._remember(period, moment)
            done.append(period)
        return done

    def send(self, period: Period, moment: datetime) -> None:
        section = self.settings.reports
        made = briefing(self.store, self.state, period, moment, section.scheme, outlet_names(self.settings))
        page, note, pdf = render.html(made), "", None
        if section.format == "pdf":
            try:
                pdf = render.pdf(page, section.chromium)
            except render.ReportError as exc:
                log.warning("briefing %s goes as HTML: %s", period.key, exc)
                note = f"\n（未能生成 PDF，附件为网页版：{exc}）"
        message = EmailMessage()
        message["Subject"] = f"{period.title} {period.label}"
        message["From"] = self.settings.smtp.sender
        message["To"] = ", ".join(section.recipients)
        message["Date"] = formatdate(localtime=True)
        # The same for every try: a copy sent twice (a crash between the server's acceptance and the record)
        # can be recognised by the mail system.
        domain = self.settings.smtp.sender.split("@")[-1]
        message["Message-ID"] = f"<yuqing-report-{period.kind}-{period.first.isoformat()}@{domain}>"
        figures = "；".join(_line(f) for f in made.headline)
        message.set_content(f"{period.title}（{period.label}）见附件。\n{figures}{note}\n")
        if pdf is not None:
            message.add_attachment(pdf, maintype="application", subtype="pdf", filename=file_name(period, "pdf"))
        else:
            message.add_attachment(page, subtype="html", filename=file_name(period, "html"))
        fmt = "pdf" if pdf is not None else "html"
        with connect(self.settings.smtp) as client:
            client.send_message(message, to_addrs=section.recipients)
        log.info("briefing %s mailed to %d recipients (%s)", period.key, len(section.recipients), fmt)

    def _remember(self, period: Period, moment: datetime) -> None:
        sent = {**self.sent(), period.key: moment.isoformat()}
        partial = self.record.with_suffix(".tmp")
        with partial.open("w", encoding="utf-8") as out:
            json.dump(sent, out, ensure_ascii=False, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.record)  # whole or not at all, even if the machine stops here


_NAMES = {"posts": "信息", "negative": "负面", "negative_share": "负面占比", "events": "事件", "alerts": "预警"}


def _line(figure: Figure) -> str:
    value = f"{figure.current:.1%}" if figure.share else f"{int(figure.current)}"
    return f"{_NAMES[figure.name]} {value}"


def write(path: Path, content: bytes) -> None:
    """The whole file or none: a briefing cut short would pass for a whole one."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)
