"""The dashboard's accounts, sessions and audit trail: one SQLite file, `accounts.db`, in the store's folder.

Why a file of its own and not a table beside the alert state: the alert state belongs to the alerting stage,
which the dashboard may not import, and accounts are the dashboard's. A file of its own can also be kept
private (mode 0600: it holds password hashes), backed up or reset without touching the alert history.
SQLite lets `yuqing users add` change accounts while the service runs; the dashboard reads them per request.

Passwords are argon2id hashes (argon2-cffi's defaults). Sessions are kept here as the SHA-256 of their id,
so that signing out ends a session for good and a copy of the file opens none.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, delete, event, func,
                        insert, select, update)
from sqlalchemy.engine import Engine

from dashboards.web.roles import ROLE_LABELS, ROLES
from models import now

NAME = re.compile(r"[\w.@-]{1,64}")  # letters (Chinese too), digits, . _ @ -
MIN_PASSWORD = 10
FILE = "accounts.db"

metadata = MetaData()
accounts = Table(
    "accounts", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
sessions = Table(
    "sessions", metadata,
    Column("digest", String(64), primary_key=True),
    Column("name", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)
audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("who", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("address", String(64), nullable=False, default=""),
)


class AccountError(ValueError):
    """A change to the accounts that cannot be made; the message says why (for the command line), `zh` says it
    on the admin page."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


@dataclass(frozen=True)
class Account:
    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    id: str
    account: Account
    created_at: datetime


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC-aware ones.
    return moment if moment.tzinfo else moment.replace(tzinfo=now().tzinfo)


def _wal(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the CLI writes while the dashboard reads
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Accounts:
    def __init__(self, path: Path, hasher: PasswordHasher | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self.path = path
        self.engine: Engine = create_engine(f"sqlite:///{path.as_posix()}")
        event.listen(self.engine, "connect", _wal)
        metadata.create_all(self.engine)
        if fresh:
            os.chmod(path, 0o600)
        self.hasher = hasher or PasswordHasher()
        # Checked when the name is unknown, so a wrong name takes as long as a wrong password.
        self._decoy = self.hasher.hash(secrets.token_hex(16))

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Accounts:
        return cls(data_dir / FILE)

    def close(self) -> None:
        self.engine.dispose()

    # ---- accounts ----
    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(accounts)).scalar_one()

    def listing(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(accounts.c.name, accounts.c.role, accounts.c.created_at,
                                       accounts.c.changed_at).order_by(accounts.c.name)).mappings()
            return [{**row, "created_at": _aware(row["created_at"]), "changed_at": _aware(row["changed_at"])}
                    for row in rows]

    def get(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts.c.role).where(accounts.c.name == name)).first()
        return Account(name, row.role) if row else None

    def add(self, name: str, role: str, password: str, by: str) -> Account:
        _check_name(name)
        _check_role(role)
        _check_password(password)
        at = now()
        with self.engine.begin() as conn:
            if conn.execute(select(accounts.c.name).where(accounts.c.name == name)).first():
                raise AccountError(f"account {name!r} exists; `yuqing users passwd {name}` changes its password",
                                   f"账号“{name}”已存在。")
            conn.execute(insert(accounts).values(name=name, role=role, hash=self.hasher.hash(password),
                                                 created_at=at, changed_at=at))
        self.record(by, "account-add", f"{name} ({role})")
        return Account(name, role)

    def set_password(self, name: str, password: str, by: str) -> None:
        _check_password(password)
        with self.engine.begin() as conn:
            done = conn.execute(update(accounts).where(accounts.c.name == name).values(
                hash=self.hasher.hash(password), changed_at=now())).rowcount
            if not done:
                raise AccountError(f"no account {name!r}", f"没有账号“{name}”。")
            conn.execute(delete(sessions).where(sessions.c.name == name))  # a new password signs everyone out
        self.record(by, "account-passwd", name)

    def set_role(self, name: str, role: str, by: str) -> None:
        _check_role(role)
        with self.engine.begin() as conn:
            if not conn.execute(update(accounts).where(accounts.c.name == name).values(
                    role=role, changed_at=now())).rowcount:
                raise AccountError(f"no account {name!r}", f"没有账号“{name}”。")
        self.record(by, "account-role", f"{name} ({role})")

    def remove(self, name: str, by: str) -> None:
        with self.engine.begin() as conn:
            if not conn.execute(delete(accounts).where(accounts.c.name == name)).rowcount:
                raise AccountError(f"no account {name!r}", f"没有账号“{name}”。")
            conn.execute(delete(sessions).where(sessions.c.name == name))
        self.record(by, "account-remove", name)

    def verify(self, name: str, password: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts.c.role, accounts.c.hash).where(accounts.c.name == name)).first()
        try:
            self.hasher.verify(row.hash if row else self._decoy, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self.hasher.check_needs_rehash(row.hash):  # the hasher's parameters were raised since
            with self.engine.begin() as conn:
                conn.execute(update(accounts).where(accounts.c.name == name).values(hash=self.hasher.hash(password)))
        return Account(name, row.role)

    # ---- sessions ----
    def open_session(self, account: Account) -> str:
        session_id = secrets.token_urlsafe(32)
        at = now()
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(digest=_digest(session_id), name=account.name, created_at=at,
                                                 seen_at=at))
        return session_id

    def session(self, session_id: str, idle: float, lifetime: float) -> Session | None:
        """The live session with this id, its last use moved to now; None (and the session ended) once it has
        been idle `idle` seconds or open `lifetime` seconds."""
        digest, at = _digest(session_id), now()
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions, accounts.c.role).join(accounts, accounts.c.name == sessions.c.name)
                               .where(sessions.c.digest == digest)).first()
        if row is None:
            return None
        created, seen = _aware(row.created_at), _aware(row.seen_at)
        if at - seen > timedelta(seconds=idle) or at - created > timedelta(seconds=lifetime):
            self.end_session(session_id)
            return None
        if at - seen > timedelta(seconds=min(60.0, idle / 10)):  # one write a minute, not one a request
            with self.engine.begin() as conn:
                conn.execute(update(sessions).where(sessions.c.digest == digest).values(seen_at=at))
        return Session(session_id, Account(row.name, row.role), created)

    def end_session(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.digest == _digest(session_id)))

    # ---- audit ----
    def record(self, who: str, action: str, detail: str = "", address: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit).values(at=now(), who=who[:64], action=action[:32], detail=detail,
                                              address=address[:64]))

    def trail(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit).order_by(audit.c.id.desc()).limit(limit)).mappings()
            return [{**row, "at": _aware(row["at"])} for row in rows]


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise AccountError(f"{name!r} is not an account name: 1 to 64 letters, digits, '.', '_', '@' or '-'",
                           "用户名须为 1 至 64 个汉字、字母、数字或 . _ @ -。")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role; roles: {', '.join(ROLES)}", f"没有“{role}”这种角色。")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: at least {MIN_PASSWORD} characters",
                           f"密码太短：至少 {MIN_PASSWORD} 个字符。")
