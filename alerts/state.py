"""Alert state and the outbox, through SQLAlchemy Core: SQLite on one machine, PostgreSQL by URL.

An alert and its deliveries are written in one transaction. An alert is about one thing for good (its unique
`key`: an event of a scheme, or a post without one, or a source's outage); every change to it, by a person or
by the service, leaves a row in its history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, create_engine, event, inspect, select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError

from alerts.labels import ACTION_LABELS, SEVERITY_LABELS
from models import SHANGHAI

metadata = MetaData()

ACTIONS = tuple(ACTION_LABELS)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # What the alert is about, for good: "event:<scheme>:<event id>", "post:<scheme>:<post id>" (a post
    # without an event), "source:<name>:<outage start>"; alerts made before events: "rule:<rule>:<post id>".
    Column("key", String(400), nullable=False, unique=True),
    Column("rule", String(200), nullable=False),  # the rule that opened it
    Column("scheme", String(200), nullable=False),
    Column("event_id", String(200)),
    Column("post_id", String(200), nullable=False),  # the first post that fed it ("" when none did)
    Column("severity", String(20), nullable=False),
    Column("state", String(20), nullable=False, default="open"),
    Column("assignee", String(200)),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("reasons", JSON, nullable=False),  # [{"rule", "title", "reason"}], one per rule
    Column("post_ids", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("opened_at", DateTime, nullable=False),  # created, or last reopened: the escalation clock starts here
    Column("acknowledged_by", String(200)),
    Column("acknowledged_at", DateTime),
    Column("resolved_at", DateTime),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("mailed_at", DateTime),  # when mail about it was last queued
    Column("mailed_posts", Integer, nullable=False, default=0),  # how many posts had fed it by then
    Column("payload", JSON, nullable=False),
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
    Column("kind", String(20)),
    Column("key", String(200)),  # names the message for good (its Message-ID); a resend carries the same
    Column("payload", JSON),  # what this message says; rows from before it existed say what their alert does
)

# Each post feeds one alert of a scheme, once, whatever restarts or re-crawls happen.
alert_posts = Table(
    "alert_posts", metadata,
    Column("scheme", String(200), primary_key=True),
    Column("post_id", String(200), primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
)

history = Table(
    "alert_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("who", String(200), nullable=False),
    Column("action", String(20), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
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


def message_key(alert_id: int, created_at: datetime) -> str:
    """Names an alert's opening mail for good: its id alone would repeat if alerts.db were started afresh."""
    return f"{alert_id}.{_db(created_at):%Y%m%d%H%M%S%f}"


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
    kind: str
    key: str  # this message's own key
    alert_key: str  # the alert's opening message's key: later mails of the alert refer to it
    payload: dict[str, Any]


class AlertStateError(Exception):
    """The alert state cannot be used; the message names it and says what to do."""


class AlertActionError(Exception):
    """A person asked for something the alert's state does not allow (or of an alert that does not exist)."""


# Which actions each state allows, and the state each leads to (None: the state stays).
_MOVES: dict[str, dict[str, str | None]] = {
    "open": {"ack": "acknowledged", "assign": None, "resolve": "resolved", "note": None},
    "acknowledged": {"assign": None, "resolve": "resolved", "note": None},
    "resolved": {"reopen": "open", "note": None},
}
_REFUSALS = {
    ("acknowledged", "ack"): "已由 {acknowledged_by} 确认",
    ("resolved", "ack"): "已解决，不能再确认（需要时先重新打开）",
    ("resolved", "assign"): "已解决，不能指派（需要时先重新打开）",
    ("resolved", "resolve"): "已经解决",
    ("open", "reopen"): "没有解决，无需重新打开",
    ("acknowledged", "reopen"): "没有解决，无需重新打开",
}


class AlertState:
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)
        try:
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
                self._check()
            metadata.create_all(self.engine)
            _migrate(self.engine)
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
        key = f"rule:{alert.rule}:{alert.post_id}"
        with self.engine.connect() as conn:
            if conn.execute(select(alerts.c.id).where(alerts.c.key == key)).first():
                return None
        try:
            with self.engine.begin() as conn:
                alert_id = conn.execute(alerts.insert().values(
                    key=key, rule=alert.rule, scheme=alert.scheme, post_id=alert.post_id, severity=alert.severity,
                    state="open", title=alert.title, summary=alert.summary, url=alert.url,
                    reasons=[{"rule": alert.rule, "title": alert.rule, "reason": alert.summary}],
                    post_ids=[alert.post_id], created_at=_db(at), updated_at=_db(at), opened_at=_db(at),
                    escalation_level=0, mailed_at=_db(at), mailed_posts=1, payload=alert.payload,
                )).inserted_primary_key[0]
                self._record(conn, alert_id, at, "system", "open", detail=alert.summary)
                for channel, recipients in channels:
                    conn.execute(deliveries.insert().values(
                        alert_id=alert_id, channel=channel, recipients=recipients, status="pending",
                        attempts=0, next_attempt_at=_db(at), kind="open", key=message_key(alert_id, at),
                        payload=alert.payload,
                    ))
        except IntegrityError:
            return None  # another writer got there first
        return int(alert_id)

    def get(self, alert_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return _alert_dict(row) if row else None

    def list_alerts(self, state: str | None = None, scheme: str | None = None, limit: int = 50,
                    offset: int = 0) -> list[dict[str, Any]]:
        """Most recently changed first."""
        query = select(alerts).order_by(alerts.c.updated_at.desc(), alerts.c.id.desc()).limit(limit).offset(offset)
        if state is not None:
            query = query.where(alerts.c.state == state)
        if scheme is not None:
            query = query.where(alerts.c.scheme == scheme)
        with self.engine.connect() as conn:
            return [_alert_dict(row) for row in conn.execute(query).mappings()]

    def act(self, alert_id: int, action: str, who: str, at: datetime, note: str = "",
            assignee: str | None = None) -> dict[str, Any]:
        """A person's move on an alert; every one is written to the alert's history."""
        if action not in ACTIONS:
            raise AlertActionError(f"没有“{action}”这个操作；可用：{'、'.join(ACTIONS)}")
        who, note, assignee = who.strip(), note.strip(), (assignee or "").strip()
        if not who:
            raise AlertActionError("请说明是谁在操作")
        if action == "assign" and not assignee:
            raise AlertActionError("指派需要写明指派给谁")
        if action == "note" and not note:
            raise AlertActionError("备注不能为空")
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
            if row is None:
                raise AlertActionError(f"没有编号为 {alert_id} 的预警")
            moves = _MOVES[row["state"]]
            if action not in moves:
                refusal = _REFUSALS[(row["state"], action)].format(**row)
                raise AlertActionError(f"预警 {alert_id} {refusal}")
            values: dict[str, Any] = {"updated_at": _db(at)}
            if moves[action]:
                values["state"] = moves[action]
            detail = ""
            if action == "ack":
                values.update(acknowledged_by=who, acknowledged_at=_db(at))
            elif action == "assign":
                values["assignee"] = assignee
                detail = f"指派给 {assignee}"
            elif action == "resolve":
                values["resolved_at"] = _db(at)
            elif action == "reopen":
                values.update(_reopened(at))
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
            self._record(conn, alert_id, at, who, action, note, detail)
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
        return _alert_dict(row)

    def history(self, alert_id: int) -> list[dict[str, Any]]:
        """Oldest first."""
        query = select(history).where(history.c.alert_id == alert_id).order_by(history.c.id)
        with self.engine.connect() as conn:
            return [{"at": _local(r["at"]), "who": r["who"], "action": r["action"], "note": r["note"],
                     "detail": r["detail"]} for r in conn.execute(query).mappings()]

    @staticmethod
    def _record(conn: Connection, alert_id: int, at: datetime, who: str, action: str, note: str = "",
                detail: str = "") -> None:
        conn.execute(history.insert().values(alert_id=alert_id, at=_db(at), who=who, action=action, note=note,
                                             detail=detail))

    def resolve_by_system(self, alert_id: int, at: datetime, detail: str) -> None:
        """The service saw the cause go away (a source serves again)."""
        with self.engine.begin() as conn:
            if conn.execute(update(alerts).where(alerts.c.id == alert_id, alerts.c.state != "resolved")
                            .values(state="resolved", resolved_at=_db(at), updated_at=_db(at))).rowcount:
                self._record(conn, alert_id, at, "system", "resolve", detail=detail)

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
        query = (select(deliveries, alerts.c.created_at)
                 .join(alerts, alerts.c.id == deliveries.c.alert_id)
                 .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= _db(at))
                 .order_by(deliveries.c.id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Delivery(r["id"], r["alert_id"], r["channel"], list(r["recipients"]), r["attempts"], r["kind"],
                         r["key"], message_key(r["alert_id"], _local(r["created_at"])), r["payload"])  # type: ignore[arg-type]
                for r in rows]

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
                select(deliveries).where(deliveries.c.alert_id == alert_id).order_by(deliveries.c.id)).mappings()]

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


_ALERT_FIELDS = ("id", "key", "rule", "scheme", "event_id", "post_id", "severity", "state", "assignee", "title",
                 "summary", "url", "reasons", "post_ids", "created_at", "updated_at", "acknowledged_by",
                 "acknowledged_at", "resolved_at", "escalation_level", "payload")


def _alert_dict(row: Any) -> dict[str, Any]:
    out = {name: row[name] for name in _ALERT_FIELDS}
    for name in ("created_at", "updated_at", "acknowledged_at", "resolved_at"):
        out[name] = _local(out[name])
    return out


def _reopened(at: datetime) -> dict[str, Any]:
    """A reopened alert starts over: unacknowledged, unresolved, its escalation clock from now."""
    return {"state": "open", "acknowledged_by": None, "acknowledged_at": None, "resolved_at": None,
            "opened_at": _db(at), "escalation_level": 0}


# ---- alerts.db files from before events ----
def _migrate(engine: Engine) -> None:
    """Bring an alerts.db of an earlier shape up to this one; its rows stay, readable and complete."""
    columns = {name: {c["name"] for c in inspect(engine).get_columns(name)} for name in ("alerts", "deliveries")}
    with engine.begin() as conn:
        if "key" not in columns["alerts"]:
            _rebuild_alerts(conn)
        for name in ("kind", "key", "payload"):
            if name not in columns["deliveries"]:
                column = deliveries.c[name]
                conn.exec_driver_sql(f"ALTER TABLE deliveries ADD COLUMN {name} "
                                     f"{column.type.compile(engine.dialect)}")
        if "kind" not in columns["deliveries"]:
            # Every delivery of the earlier shape was its alert's one mail, saying what the alert says.
            rows = conn.execute(select(deliveries.c.id, alerts.c.id.label("alert_id"), alerts.c.created_at,
                                       alerts.c.payload).join(alerts, alerts.c.id == deliveries.c.alert_id)).all()
            for row in rows:
                kind = row.payload.get("kind", "open")
                conn.execute(update(deliveries).where(deliveries.c.id == row.id).values(
                    kind=kind, key=message_key(row.alert_id, _local(row.created_at)), payload=row.payload))  # type: ignore[arg-type]


def _rebuild_alerts(conn: Connection) -> None:
    """The earlier table made one alert per (rule, post), a constraint SQLite cannot drop: copy its rows into a
    table of this shape (the way SQLite's documentation says to change a table) and put that one in its place."""
    old = Table("alerts", MetaData(), autoload_with=conn)
    rows = conn.execute(select(old).order_by(old.c.id)).mappings().all()
    new = alerts.to_metadata(MetaData(), name="alerts_new")
    conn.exec_driver_sql("DROP TABLE IF EXISTS alerts_new")  # left by a copy that was cut short
    new.create(conn)
    fed: set[tuple[str, str]] = set()
    for row in rows:
        payload = dict(row["payload"])
        source = payload.get("template") == "source"
        payload.update(kind="source" if source else "open", severity_label=SEVERITY_LABELS[row["severity"]],
                       summary=row["summary"], reasons=[payload.get("reason", row["summary"])],
                       alert_url="", context="", risk=None)
        conn.execute(new.insert().values(
            id=row["id"], key=row["post_id"] if source else f"rule:{row['rule']}:{row['post_id']}",
            rule=row["rule"], scheme=row["scheme"], event_id=None, post_id=row["post_id"],
            severity=row["severity"], state=row["state"], assignee=None, title=row["title"],
            summary=row["summary"], url=row["url"],
            reasons=[{"rule": row["rule"], "title": row["rule"], "reason": row["summary"]}],
            post_ids=[] if source else [row["post_id"]], created_at=row["created_at"],
            updated_at=row["resolved_at"] or row["acknowledged_at"] or row["created_at"],
            opened_at=row["created_at"], acknowledged_by=row["acknowledged_by"],
            acknowledged_at=row["acknowledged_at"], resolved_at=row["resolved_at"], escalation_level=0,
            mailed_at=row["created_at"], mailed_posts=1, payload=payload,
        ))
        # The posts alerted on before count as fed: they alert no one again.
        if not source and (row["scheme"], row["post_id"]) not in fed:
            fed.add((row["scheme"], row["post_id"]))
            conn.execute(alert_posts.insert().values(scheme=row["scheme"], post_id=row["post_id"],
                                                     alert_id=row["id"], at=row["created_at"]))
    conn.exec_driver_sql("DROP TABLE alerts")
    conn.exec_driver_sql("ALTER TABLE alerts_new RENAME TO alerts")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
