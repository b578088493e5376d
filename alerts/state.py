"""Alert state and the outbox, through SQLAlchemy Core: SQLite on one machine, PostgreSQL by URL.

An alert and its deliveries are written in one transaction; UNIQUE(rule, post_id) makes a post alert
at most once per rule, whatever restarts or re-crawls happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, UniqueConstraint, create_engine,
    event, select, update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, IntegrityError

from models import SHANGHAI

metadata = MetaData()

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("scheme", String(200), nullable=False),
    Column("post_id", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("state", String(20), nullable=False, default="open"),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("acknowledged_by", String(200)),
    Column("acknowledged_at", DateTime),
    Column("resolved_at", DateTime),
    UniqueConstraint("rule", "post_id", name="one_alert_per_rule_and_post"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("channel", String(50), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("status", String(20), nullable=False, default="pending", index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("rule", String(200), primary_key=True),
    Column("evaluated_at", DateTime, nullable=False),
)


def _db(moment: datetime) -> datetime:
    """Stored as naive UTC: portable across SQLite and PostgreSQL."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI) if moment else None


@dataclass
class NewAlert:
    rule: str
    scheme: str
    post_id: str
    severity: str
    title: str
    summary: str
    url: str
    payload: dict[str, Any]


@dataclass
class Delivery:
    id: int
    alert_id: int
    channel: str
    recipients: list[str]
    attempts: int
    alert: dict[str, Any]
    created_at: datetime

    @property
    def alert_key(self) -> str:
        """Names the alert for good, for a Message-ID: its id alone would repeat if alerts.db were started afresh."""
        return f"{self.alert_id}.{self.created_at:%Y%m%d%H%M%S%f}"


class AlertStateError(Exception):
    """The alert state cannot be used; the message names it and says what to do."""


class AlertState:
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)
        try:
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
                self._check()
            metadata.create_all(self.engine)
        except DatabaseError as exc:
            self.engine.dispose()
            raise AlertStateError(self._unusable(exc)) from None

    def _check(self) -> None:
        # A damaged file may open fine and fail later, mid-run, on the page that is broken: look at every page now.
        with self.engine.connect() as conn:
            report = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check")]
        if report != ["ok"]:
            problems = [line for row in report for line in row.splitlines() if not line.startswith("***")]
            more = f", and {len(problems) - 1} more problems" if len(problems) > 1 else ""
            raise AlertStateError(self._damaged(problems[0] + more))

    def _damaged(self, reason: str) -> str:
        return (f"{self.engine.url.database} is damaged ({reason}); restore it from a backup, or move it aside and "
                f"yuqing starts a new one (the alert history, unsent mail and source health in it are then lost)")

    def _unusable(self, exc: DatabaseError) -> str:
        if self.engine.dialect.name == "sqlite":
            return self._damaged(str(exc.orig))
        return f"the alert state at {self.engine.url} cannot be used ({exc.orig})"

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> AlertState:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{(data_dir / 'alerts.db').as_posix()}")

    def close(self) -> None:
        self.engine.dispose()

    # ---- alerts ----
    def create_alert(self, alert: NewAlert, channels: list[tuple[str, list[str]]], at: datetime) -> int | None:
        """Insert the alert and its outbox rows; None when this rule already alerted on this post."""
        with self.engine.connect() as conn:
            known = conn.execute(
                select(alerts.c.id).where(alerts.c.rule == alert.rule, alerts.c.post_id == alert.post_id)
            ).first()
        if known:
            return None
        try:
            with self.engine.begin() as conn:
                alert_id = conn.execute(alerts.insert().values(
                    rule=alert.rule, scheme=alert.scheme, post_id=alert.post_id, severity=alert.severity,
                    state="open", title=alert.title, summary=alert.summary, url=alert.url,
                    created_at=_db(at), payload=alert.payload,
                )).inserted_primary_key[0]
                for channel, recipients in channels:
                    conn.execute(deliveries.insert().values(
                        alert_id=alert_id, channel=channel, recipients=recipients, status="pending",
                        attempts=0, next_attempt_at=_db(at),
                    ))
        except IntegrityError:
            return None  # another writer got there first
        return int(alert_id)

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return self._alert_dict(row) if row else None

    @staticmethod
    def _alert_dict(row: Any) -> dict[str, Any]:
        out = dict(row)
        for key in ("created_at", "acknowledged_at", "resolved_at"):
            out[key] = _local(out[key])
        return out

    def acknowledge(self, alert_id: int, who: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.state == "open").values(
                state="acknowledged", acknowledged_by=who, acknowledged_at=_db(at)))

    def resolve(self, alert_id: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(state="resolved", resolved_at=_db(at)))

    def recent_alerts(self, limit: int = 20) -> list[dict[str, Any]]:
        """For the dashboard: newest first, with the state of their deliveries."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).order_by(alerts.c.id.desc()).limit(limit)).mappings().all()
            ids = [r["id"] for r in rows]
            status: dict[int, list[str]] = {}
            for d in conn.execute(select(deliveries.c.alert_id, deliveries.c.status)
                                  .where(deliveries.c.alert_id.in_(ids))):
                status.setdefault(d.alert_id, []).append(d.status)
        out = []
        for row in rows:
            states = status.get(row["id"], [])
            delivery = "sent" if states and all(s == "sent" for s in states) else ("pending" if states else "none")
            out.append({
                "id": row["id"], "created_at": _local(row["created_at"]).isoformat(), "rule": row["rule"],
                "scheme": row["scheme"], "severity": row["severity"], "state": row["state"], "title": row["title"],
                "url": row["url"], "delivery": delivery,
            })
        return out

    # ---- outbox ----
    def due_deliveries(self, at: datetime) -> list[Delivery]:
        query = (select(deliveries, alerts.c.payload, alerts.c.created_at)
                 .join(alerts, alerts.c.id == deliveries.c.alert_id)
                 .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= _db(at))
                 .order_by(deliveries.c.id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Delivery(r["id"], r["alert_id"], r["channel"], list(r["recipients"]), r["attempts"], r["payload"],
                         r["created_at"]) for r in rows]

    def mark_sent(self, delivery_id: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
                status="sent", sent_at=_db(at), attempts=deliveries.c.attempts + 1, last_error=None))

    def mark_failed(self, delivery_id: int, error: str, retry_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
                attempts=deliveries.c.attempts + 1, last_error=error[:2000], next_attempt_at=_db(retry_at)))

    def deliveries_of(self, alert_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                select(deliveries).where(deliveries.c.alert_id == alert_id)).mappings()]

    # ---- checkpoints ----
    def checkpoint(self, rule: str) -> datetime | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(checkpoints.c.evaluated_at).where(checkpoints.c.rule == rule)).first()
        return _local(row[0]) if row else None

    def set_checkpoint(self, rule: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(update(checkpoints).where(checkpoints.c.rule == rule)
                                   .values(evaluated_at=_db(at))).rowcount
            if not changed:
                conn.execute(checkpoints.insert().values(rule=rule, evaluated_at=_db(at)))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
