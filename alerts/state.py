"""Alert state and the outbox, through SQLAlchemy Core: SQLite on one machine, PostgreSQL by URL.

An alert and its deliveries are written in one transaction. An alert is about one thing for good (its unique
`key`: an event of a scheme, or a post without one, or a source's outage); every change to it, by a person or
by the service, leaves a row in its history, and a new revision: the alerts the store has not taken at their
revision yet (`unsynced`) are copied into it at the next round (alerts.copies).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON, BigInteger, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text, case, create_engine, event,
    func, inspect, select, update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from alerts.labels import ACTION_LABELS, SEVERITY_LABELS
from models import SHANGHAI
from store.base import AlertCopy

if TYPE_CHECKING:
    import settings as config

DEFAULT_FILE = "alerts.db"  # in the data folder, when [alerts] state_url names none
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
    # Every change gives the alert a new revision, from the clock and above the one before: the store's copy is
    # written with it, so a late write never undoes a newer one, even after alerts.db was started afresh.
    Column("revision", BigInteger, nullable=False, default=1, server_default="1"),
    Column("synced", BigInteger, nullable=False, default=0, server_default="0"),  # the revision the store took
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("channel", String(50), nullable=False),
    Column("recipients", JSON, nullable=False),
    # pending, sent; held (quiet hours), merged (into a morning digest)
    Column("status", String(20), nullable=False, default="pending", index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime),
    Column("kind", String(20)),
    Column("key", String(200)),  # names the message for good (its Message-ID); a resend carries the same
    Column("payload", JSON),  # what this message says; rows from before it existed say what their alert does
    Column("thread", String(200)),  # the key of the message it follows up
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


def _now_revision() -> int:
    return time.time_ns() // 1000  # microseconds of the wall clock: a new alerts.db goes on above the old one's


def _next_revision() -> ColumnElement[int]:
    """The revision of an alert being changed: the clock's, or one above its own if the clock went back."""
    stamp = _now_revision()
    return case((alerts.c.revision >= stamp, alerts.c.revision + 1), else_=stamp)


def _local(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI) if moment else None


def message_key(alert_id: int, created_at: datetime) -> str:
    """Names an alert's opening mail for good: its id alone would repeat if alerts.db were started afresh."""
    return f"{alert_id}.{_db(created_at):%Y%m%d%H%M%S%f}"


@dataclass
class NewAlert:
    key: str
    rule: str  # the rule that opens it
    scheme: str
    severity: str
    title: str
    summary: str
    url: str
    payload: dict[str, Any]
    event_id: str | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)
    post_ids: list[str] = field(default_factory=list)


@dataclass
class AlertChange:
    """What the service learnt about an alert since it last looked."""

    severity: str
    summary: str
    reasons: list[dict[str, str]]
    payload: dict[str, Any]
    new_posts: list[str] = field(default_factory=list)
    reopen: bool = False


@dataclass
class Outgoing:
    """One mailing of an alert: a message to each (channel, recipients); held ones wait for the quiet hours' end."""

    kind: str
    payload: dict[str, Any]
    rows: list[tuple[str, list[str]]]
    held: bool = False


@dataclass
class Delivery:
    id: int
    alert_id: int
    channel: str
    recipients: list[str]
    attempts: int
    kind: str
    key: str  # this message's own key
    alert_key: str  # the key of the alert's opening message
    thread: str | None  # the key of the message this one follows up (None: it starts a thread)
    payload: dict[str, Any]


@dataclass(frozen=True)
class Backlog:
    pending: int  # mails to send
    failing: int  # of them, tried and failed at least once
    held: int  # held through the quiet hours
    unsynced: int  # alerts changed since the store last took their copy


class AlertStateError(Exception):
    """The alert state cannot be used; the message names it and says what to do."""


class AlertActionError(ValueError):
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
    def __init__(self, url: str | URL) -> None:
        parsed = make_url(url)
        sqlite, where = parsed.get_backend_name() == "sqlite", parsed.database
        if sqlite and where and where != ":memory:" and not Path(where).parent.is_dir():
            # SQLite says only "unable to open database file", which reads as damage
            raise AlertStateError(f"the alert state {where} cannot be made: its folder {Path(where).parent} does not "
                                  "exist; create it, or correct [alerts] state_url")
        # A server restarted under a running service leaves dead connections in the pool: test each before use.
        self.engine: Engine = create_engine(url, pool_pre_ping=not sqlite)
        try:
            if sqlite:
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
        why = " ".join(str(exc.orig).split())  # one line: the server's messages span several
        return f"the alert state at {self.engine.url} cannot be used ({why})"

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> AlertState:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{(data_dir / DEFAULT_FILE).as_posix()}")

    @staticmethod
    def made_for(settings: config.Settings) -> bool:
        """Whether the state the settings name may hold anything yet (opening one creates it)."""
        return bool(settings.alerts.state_url) or (settings.data_dir / DEFAULT_FILE).exists()

    @classmethod
    def for_settings(cls, settings: config.Settings) -> AlertState:
        """At [alerts] state_url (its password from [alerts] state_password), else alerts.db in the data folder."""
        section = settings.alerts
        if not section.state_url:
            return cls.for_data_dir(settings.data_dir)
        url = make_url(section.state_url)  # settings checked that it reads
        if url.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2; yuqing ships psycopg 3
            url = url.set(drivername="postgresql+psycopg")
        if section.state_password:
            url = url.set(password=section.state_password)
        return cls(url)

    def close(self) -> None:
        self.engine.dispose()

    # ---- the service's side: alerts opened and followed ----
    def open_alert(self, alert: NewAlert, mail: Outgoing | None, at: datetime) -> int | None:
        """Insert the alert, its posts and its first mailing; None when an alert with its key exists."""
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(alerts.c.id).where(alerts.c.key == alert.key)).first():
                    return None
                alert_id = int(conn.execute(alerts.insert().values(
                    key=alert.key, rule=alert.rule, scheme=alert.scheme, event_id=alert.event_id,
                    post_id=alert.post_ids[0] if alert.post_ids else "", severity=alert.severity, state="open",
                    title=alert.title, summary=alert.summary, url=alert.url, reasons=alert.reasons,
                    post_ids=alert.post_ids, created_at=_db(at), updated_at=_db(at), opened_at=_db(at),
                    escalation_level=0, mailed_at=_db(at), mailed_posts=len(alert.post_ids), payload=alert.payload,
                    revision=_now_revision(),
                )).inserted_primary_key[0])
                self._fed(conn, alert.scheme, alert_id, alert.post_ids, at)
                self._record(conn, alert_id, at, "system", "open", detail=alert.summary)
                if mail:
                    self._queue(conn, alert_id, at, mail, at)
        except IntegrityError:
            return None  # another writer got there first
        return alert_id

    def change(self, alert_id: int, change: AlertChange, mail: Outgoing | None, at: datetime) -> None:
        """Fold new posts and reasons into an alert (reopening it if asked), with a history row, and queue `mail`."""
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
            values: dict[str, Any] = {
                "severity": change.severity, "summary": change.summary, "reasons": change.reasons,
                "payload": change.payload, "post_ids": [*row["post_ids"], *change.new_posts],
                "revision": _next_revision(),
            }
            if change.reopen:
                values.update(_reopened(at))
            if mail:
                values.update(mailed_at=_db(at), mailed_posts=len(values["post_ids"]))
            details = []
            if change.new_posts:
                details.append(f"新增 {len(change.new_posts)} 条帖子")
            if change.severity != row["severity"]:
                details.append(f"严重程度 {SEVERITY_LABELS[row['severity']]} → {SEVERITY_LABELS[change.severity]}")
            new_rules = {r["rule"] for r in change.reasons} - {r["rule"] for r in row["reasons"]}
            if new_rules:
                details.append(f"新触发规则 {'、'.join(sorted(new_rules))}")
            if change.reopen or details:  # else only what it says was refreshed: nothing to audit
                values["updated_at"] = _db(at)
                self._record(conn, alert_id, at, "system", "reopen" if change.reopen else "update",
                             detail="；".join(details))
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
            self._fed(conn, row["scheme"], alert_id, change.new_posts, at)
            if mail:
                self._queue(conn, alert_id, _local(row["created_at"]), mail, at)  # type: ignore[arg-type]

    def follow_up(self, alert_id: int, mail: Outgoing, at: datetime, escalation_level: int | None = None,
                  detail: str = "") -> None:
        """Queue a digest, or an escalation to `escalation_level` (with a history row)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one()
            values: dict[str, Any] = {"mailed_at": _db(at), "mailed_posts": len(row["post_ids"]),
                                      "revision": _next_revision()}
            if escalation_level is not None:
                values.update(escalation_level=escalation_level, updated_at=_db(at))
                self._record(conn, alert_id, at, "system", "escalate", detail=detail)
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))
            self._queue(conn, alert_id, _local(row["created_at"]), mail, at)  # type: ignore[arg-type]

    def update_payload(self, alert_id: int, payload: dict[str, Any]) -> None:
        """What the alert says now (an official response came), with no mail and no history: nothing changed."""
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(payload=payload,
                                                                               revision=_next_revision()))

    @staticmethod
    def _fed(conn: Connection, scheme: str, alert_id: int, post_ids: list[str], at: datetime) -> None:
        for post_id in post_ids:
            conn.execute(alert_posts.insert().values(scheme=scheme, post_id=post_id, alert_id=alert_id, at=_db(at)))

    @staticmethod
    def _queue(conn: Connection, alert_id: int, created_at: datetime, mail: Outgoing, at: datetime) -> None:
        opening = message_key(alert_id, created_at)
        if mail.kind in ("open", "source"):
            key, thread = opening, None
        else:  # numbered after the mailings before it: the same for every recipient and every resend
            done = conn.execute(select(func.count(deliveries.c.key.distinct()))
                                .where(deliveries.c.alert_id == alert_id)).scalar_one()
            key, thread = f"{opening}.{done}", opening
        for channel, recipients in mail.rows:
            conn.execute(deliveries.insert().values(
                alert_id=alert_id, channel=channel, recipients=recipients, attempts=0, next_attempt_at=_db(at),
                status="held" if mail.held else "pending", kind=mail.kind, key=key, thread=thread,
                payload=mail.payload))

    def by_keys(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Alerts by key, every column."""
        keys = list(keys)
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.key.in_(keys))).mappings().all() if keys else []
        return {row["key"]: _row_dict(row) for row in rows}

    def following(self) -> list[dict[str, Any]]:
        """Alerts of events and posts not resolved, every column: the ones that may escalate or need a digest.
        (Alerts made before events, "rule:…", are history: they stay as they were.)"""
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(
                alerts.c.state != "resolved", alerts.c.key.like("event:%") | alerts.c.key.like("post:%"),
            ).order_by(alerts.c.id)).mappings().all()
        return [_row_dict(row) for row in rows]

    def opened_since(self, scheme: str, since: datetime) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.scheme == scheme, alerts.c.created_at >= _db(since))
                                ).mappings().all()
        return [_row_dict(row) for row in rows]

    def fed(self, scheme: str, post_ids: Iterable[str]) -> set[str]:
        """Which of these posts fed an alert of the scheme already."""
        ids = list(post_ids)
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):  # SQLite allows so many parameters in one statement
                found |= set(conn.execute(select(alert_posts.c.post_id).where(
                    alert_posts.c.scheme == scheme, alert_posts.c.post_id.in_(ids[start:start + 500]))).scalars())
        return found

    def of_events(self, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The newest alert of each of these events (an event in two schemes may have two), for the overview."""
        ids = list(event_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts.c.id, alerts.c.event_id, alerts.c.severity, alerts.c.state)
                                .where(alerts.c.event_id.in_(ids)).order_by(alerts.c.id)).mappings().all() if ids else []
        return {row["event_id"]: dict(row) for row in rows}  # later rows, newer alerts, win

    def count_since(self, since: datetime) -> int:
        """Alerts raised at or after `since`."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(alerts)
                                .where(alerts.c.created_at >= _db(since))).scalar_one()

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
            values: dict[str, Any] = {"updated_at": _db(at), "revision": _next_revision()}
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
                            .values(state="resolved", resolved_at=_db(at), updated_at=_db(at),
                                    revision=_next_revision())).rowcount:
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
            delivery = ("none" if not states else "pending" if "pending" in states else
                        "held" if "held" in states else "sent")
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
        return self._deliveries(query)

    def held(self) -> list[Delivery]:
        """Mail held through the quiet hours, oldest first."""
        query = (select(deliveries, alerts.c.created_at).join(alerts, alerts.c.id == deliveries.c.alert_id)
                 .where(deliveries.c.status == "held").order_by(deliveries.c.id))
        return self._deliveries(query)

    def _deliveries(self, query: Any) -> list[Delivery]:
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Delivery(r["id"], r["alert_id"], r["channel"], list(r["recipients"]), r["attempts"], r["kind"],
                         r["key"], message_key(r["alert_id"], _local(r["created_at"])), r["thread"],  # type: ignore[arg-type]
                         r["payload"]) for r in rows]

    def merge_held(self, held: list[Delivery], digests: list[tuple[int, Outgoing]], at: datetime) -> None:
        """Replace held mail by morning digests (each filed under one of its alerts), in one transaction."""
        stamp = f"digest.{_db(at):%Y%m%d%H%M%S%f}"
        with self.engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id.in_([d.id for d in held])).values(status="merged"))
            for n, (alert_id, mail) in enumerate(digests):
                for channel, recipients in mail.rows:
                    conn.execute(deliveries.insert().values(
                        alert_id=alert_id, channel=channel, recipients=recipients, attempts=0,
                        next_attempt_at=_db(at), status="pending", kind=mail.kind, key=f"{stamp}.{n}", thread=None,
                        payload=mail.payload))

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

    # ---- the store's copy ----
    def unsynced(self, limit: int, after: int = 0, everything: bool = False) -> list[AlertCopy]:
        """Alerts past id `after` that the store has not taken at their revision (`everything`: all of them),
        by id."""
        query = select(alerts).where(alerts.c.id > after).order_by(alerts.c.id).limit(limit)
        if not everything:
            query = query.where(alerts.c.revision > alerts.c.synced)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AlertCopy(row["id"], row["key"], row["revision"], _alert_dict(row)) for row in rows]

    def backlog(self) -> Backlog:
        """What waits: mail in the outbox, and alert changes the store has not taken yet."""
        with self.engine.connect() as conn:
            waiting = conn.execute(select(deliveries.c.status, deliveries.c.attempts > 0, func.count())
                                   .where(deliveries.c.status.in_(("pending", "held")))
                                   .group_by(deliveries.c.status, deliveries.c.attempts > 0)).all()
            unsynced = conn.execute(select(func.count()).select_from(alerts)
                                    .where(alerts.c.revision > alerts.c.synced)).scalar_one()
        return Backlog(pending=sum(n for status, _, n in waiting if status == "pending"),
                       failing=sum(n for status, tried, n in waiting if status == "pending" and tried),
                       held=sum(n for status, _, n in waiting if status == "held"), unsynced=unsynced)

    def mark_synced(self, copies: Iterable[AlertCopy]) -> None:
        """The store took these copies; a change since (a newer revision) stays unsynced."""
        with self.engine.begin() as conn:
            for copy in copies:
                conn.execute(update(alerts).where(alerts.c.id == copy.alert_id, alerts.c.synced < copy.revision)
                             .values(synced=copy.revision))

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


def _row_dict(row: Any) -> dict[str, Any]:
    """Every column, times aware: for the engine."""
    out = dict(row)
    for name in ("created_at", "updated_at", "opened_at", "acknowledged_at", "resolved_at", "mailed_at"):
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
            _rebuild_alerts(conn)  # into this shape, revisions included
        else:  # from before the store's copy: every alert is still to be copied
            for name in ("revision", "synced"):
                if name not in columns["alerts"]:
                    _add_column(conn, alerts.c[name])
        for name in ("kind", "key", "payload", "thread"):
            if name not in columns["deliveries"]:
                _add_column(conn, deliveries.c[name])
        if "kind" not in columns["deliveries"]:
            # Every delivery of the earlier shape was its alert's one mail, saying what the alert says.
            rows = conn.execute(select(deliveries.c.id, alerts.c.id.label("alert_id"), alerts.c.created_at,
                                       alerts.c.payload).join(alerts, alerts.c.id == deliveries.c.alert_id)).all()
            for row in rows:
                kind = row.payload.get("kind", "open")
                conn.execute(update(deliveries).where(deliveries.c.id == row.id).values(
                    kind=kind, key=message_key(row.alert_id, _local(row.created_at)), payload=row.payload))  # type: ignore[arg-type]


def _add_column(conn: Connection, column: Column[Any]) -> None:
    kind = column.type.compile(conn.dialect)
    default = f" NOT NULL DEFAULT {column.server_default.arg}" if column.server_default is not None else ""  # type: ignore[attr-defined]
    conn.exec_driver_sql(f"ALTER TABLE {column.table.name} ADD COLUMN {column.name} {kind}{default}")


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
