"""Source health: how each source's recent crawls went, kept beside the alert state (same database).

The service records every crawl's summary here. A run *served* when it yielded items, or met only
posts already stored (`known`, from incremental spiders): the source works, it just had nothing new.
A run that served nothing starts (or continues) an outage; the first run that serves ends it.

Statuses, worst first:
- blocked: the last run met a captcha, a login / visitor check, HTTP 403/418 or 429, and served nothing
- silent:  nothing served for longer than the source's `alert_after` window
- failing: the last run failed (network, timeout, server errors, parse failures, a crashed crawl); a source that
           served before and now yields nothing from a page that still answers is `layout_changed?`, with the URL
- empty:   the last run served nothing, without an error (where earlier runs had results: error class `empty`)
- ok:      the last run served
- pending: never crawled yet
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text, select, update
from sqlalchemy.engine import Engine

import settings as config
from crawlers.breakage import BLOCKING, PARSE
from models import SHANGHAI

OK, EMPTY, BLOCKED, FAILING, SILENT, PENDING = "ok", "empty", "blocked", "failing", "silent", "pending"
EMPTY_CLASS = "empty"
LAYOUT_CHANGED = "layout_changed?"
CRAWL_FAILED = "crawl_failed"
HISTORY = 20  # runs kept per source

metadata = MetaData()

source_health = Table(
    "source_health", metadata,
    Column("source", String(200), primary_key=True),
    Column("first_attempt", DateTime, nullable=False),
    Column("last_attempt", DateTime, nullable=False),
    Column("last_success", DateTime),
    Column("outage_since", DateTime),
    Column("error_class", String(50)),
    Column("message", Text, nullable=False, default=""),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("alert_id", Integer),
    Column("runs", JSON, nullable=False),
)


def _db(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment else None


def _local(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI) if moment else None


@dataclass
class Run:
    """One crawl's summary, as `crawlers.run` prints it."""

    items: int = 0
    known: int = 0
    error_class: str | None = None
    message: str = ""
    url: str = ""  # the page the crawl read: the one it could not parse, else the first that answered

    @property
    def served(self) -> bool:
        return self.items + self.known > 0


@dataclass
class SourceHealth:
    source: str
    first_attempt: datetime
    last_attempt: datetime
    last_success: datetime | None = None
    outage_since: datetime | None = None
    error_class: str | None = None
    message: str = ""
    consecutive_failures: int = 0
    alert_id: int | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)  # newest last: {"at", "items", "known", "error_class"}

    def status(self, at: datetime, window: float) -> str:
        if self.outage_since is None:
            return OK
        if self.error_class in BLOCKING:
            return BLOCKED
        if (at - self.outage_since).total_seconds() >= window:
            return SILENT
        if self.error_class in (None, EMPTY_CLASS):
            return EMPTY
        return FAILING

    def down_for(self, at: datetime) -> float:
        return (at - self.outage_since).total_seconds() if self.outage_since else 0.0


class SourceHealthLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def get(self, source: str) -> SourceHealth | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(source_health).where(source_health.c.source == source)).mappings().first()
        if row is None:
            return None
        data = dict(row)
        for key in ("first_attempt", "last_attempt", "last_success", "outage_since"):
            data[key] = _local(data[key])
        return SourceHealth(**data)

    def record(self, source: str, run: Run, at: datetime) -> SourceHealth:
        """Fold one crawl into the source's record."""
        health = self.get(source) or SourceHealth(source=source, first_attempt=at, last_attempt=at)
        had_results = any(r["items"] for r in health.runs)
        error_class, message = run.error_class, run.message
        if not run.served and had_results and error_class in (None, PARSE) and run.url:
            # Results before, none now, from a page that still answers: the canary of a changed layout.
            error_class = LAYOUT_CHANGED
            message = f"{LAYOUT_CHANGED} {run.url} answers but yields nothing" + (f" ({message})" if message else "")
        elif not run.served and error_class is None and had_results:
            error_class = EMPTY_CLASS
        health.last_attempt = at
        health.error_class = error_class
        health.message = message[:2000]
        health.runs = [*health.runs, {"at": at.isoformat(), "items": run.items, "known": run.known,
                                      "error_class": error_class}][-HISTORY:]
        if run.served:
            health.last_success, health.outage_since, health.consecutive_failures = at, None, 0
        else:
            health.outage_since = health.outage_since or at
            health.consecutive_failures += 1
        self._save(health)
        return health

    def set_alert(self, source: str, alert_id: int | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(source_health).where(source_health.c.source == source).values(alert_id=alert_id))

    def _save(self, health: SourceHealth) -> None:
        values = {**health.__dict__}
        for key in ("first_attempt", "last_attempt", "last_success", "outage_since"):
            values[key] = _db(values[key])
        with self.engine.begin() as conn:
            if not conn.execute(update(source_health).where(source_health.c.source == health.source)
                                .values(**values)).rowcount:
                conn.execute(source_health.insert().values(**values))

    def report(self, sources: list[config.Source], at: datetime) -> list[dict[str, Any]]:
        """One row per configured source, for `yuqing sources` and the dashboard."""
        rows = []
        for source in sources:
            health = self.get(source.name)
            row: dict[str, Any] = {
                "source": source.name, "type": source.type, "platform": source.platform, "url": source.url,
                "enabled": source.enabled, "alert_after": source.alert_window, "status": PENDING,
                "error_class": None, "message": "", "last_attempt": None, "last_success": None,
                "outage_since": None, "consecutive_failures": 0, "items": [],
            }
            if health:
                row.update(
                    status=health.status(at, source.alert_window), error_class=health.error_class,
                    message=health.message, consecutive_failures=health.consecutive_failures,
                    items=[r["items"] for r in health.runs],
                    **{key: getattr(health, key).isoformat() if getattr(health, key) else None
                       for key in ("last_attempt", "last_success", "outage_since")},
                )
            rows.append(row)
        return rows
