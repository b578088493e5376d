"""An alert state copied whole into another (`yuqing alerts migrate`): alerts.db into PostgreSQL, say.

Every row keeps its id: the links already mailed are signed with an alert's id, deliveries and history point at
it, and the outbox goes on where it was (pending mail goes out once from the new state, sent mail never again),
as do the rules' checkpoints (no post alerts twice). The copy is one transaction on the target: all of it, or
nothing. It goes only into a state that holds no alerts yet: two states' ids cannot be merged.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError

from alerts.state import AlertState, AlertStateError, alert_posts, alerts, checkpoints, deliveries, history

# Parents before the rows that point at them.
TABLES: tuple[Table, ...] = (alerts, deliveries, alert_posts, history, checkpoints)
# The tables whose rows would collide with, or belong to, alerts of the target's own.
_OWNED = {alerts: "alerts", deliveries: "deliveries", alert_posts: "posts fed to alerts", history: "history rows"}
CHUNK = 1000


class TransferRefused(AlertStateError):
    """The copy was not made, and nothing was changed; the message says why and what to do."""


def open_source(path: Path) -> AlertState:
    """The alert state in the SQLite file at `path`, brought up to this shape; refused when it is not one."""
    if not path.is_file():
        raise TransferRefused(f"{path}: no such file (give the alerts.db to copy from)")
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_NOTADB:
            tables = {"alerts"}  # some other damage: opening it says so, as it says of any damaged alerts.db
        else:
            raise TransferRefused(f"{path} is not an alert state (not an SQLite database, or its first page is "
                                  "damaged)") from None
    if "alerts" not in tables:  # opening it would make the tables: it would not be what the user meant
        raise TransferRefused(f"{path} is not an alert state (it has no alerts table)")
    return AlertState(f"sqlite:///{path.as_posix()}")


def same_database(source: AlertState, target: AlertState) -> bool:
    url, other = source.engine.url, target.engine.url
    if url.get_backend_name() != "sqlite" or other.get_backend_name() != "sqlite":
        return False
    return bool(url.database and other.database) and Path(url.database).resolve() == Path(other.database).resolve()


def copy_state(source: AlertState, target: AlertState, chunk: int = CHUNK) -> dict[str, int]:
    """Copy every row of `source` into `target`, ids kept, in one transaction; rows copied by table."""
    if same_database(source, target):
        raise TransferRefused(f"the source and the target are the same database ({source.engine.url.database}); "
                              "set [alerts] state_url to the database to copy into")
    copied: dict[str, int] = {}
    doing = "reading the target"
    try:
        with _quiet_pipeline(), source.engine.connect() as src, target.engine.begin() as dst:
            if dst.dialect.name == "postgresql":  # services of other machines wait for the copy, not write among it
                dst.exec_driver_sql(f"LOCK TABLE {', '.join(t.name for t in TABLES)} IN SHARE ROW EXCLUSIVE MODE")
            _refuse_if_used(dst, target)
            for table in TABLES:
                doing = f"copying {table.name}"
                copied[table.name] = _copy_table(src, dst, table, chunk)
            doing = "committing the copy"
            if dst.dialect.name == "postgresql":
                _move_sequences(dst)  # SQLite numbers on from the highest rowid by itself
    except DatabaseError as exc:
        why = " ".join(str(exc.orig).split())  # one line: the server's messages span several
        raise TransferRefused(f"{doing} failed ({why}); nothing was copied, the target is as it was") from None
    return copied


@contextmanager
def _quiet_pipeline() -> Iterator[None]:
    """psycopg sends executemany's rows through a pipeline; when the server refuses a row it raises the refusal,
    and also logs that ending the pipeline failed: the refusal is said once, in the one line the command prints."""
    psycopg = logging.getLogger("psycopg")
    aftermath = _Aftermath()
    psycopg.addFilter(aftermath)
    try:
        yield
    finally:
        psycopg.removeFilter(aftermath)


class _Aftermath(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("error ignored terminating")


def _refuse_if_used(dst: Connection, target: AlertState) -> None:
    held = {name: dst.execute(select(func.count()).select_from(t)).scalar_one() for t, name in _OWNED.items()}
    if any(held.values()):
        counts = ", ".join(f"{n:,} {name}" for name, n in held.items() if n)
        raise TransferRefused(f"the alert state at {target.engine.url} already holds {counts}; yuqing does not "
                              "merge two alert states: copy into an empty database")


def _copy_table(src: Connection, dst: Connection, table: Table, chunk: int) -> int:
    count = 0
    rows = src.execution_options(yield_per=chunk).execute(select(table).order_by(*table.primary_key.columns))
    for part in rows.mappings().partitions():
        batch = [dict(row) for row in part]
        if table is checkpoints:
            _merge_checkpoints(dst, batch)
        else:
            dst.execute(table.insert(), batch)
        count += len(batch)
    return count


def _merge_checkpoints(dst: Connection, batch: list[dict[str, object]]) -> None:
    """A service started on the new state without alerting has checkpoints of its own: the later one holds."""
    rules = [row["rule"] for row in batch]
    held = dict(dst.execute(select(checkpoints.c.rule, checkpoints.c.evaluated_at)
                            .where(checkpoints.c.rule.in_(rules))).all())
    new = [row for row in batch if row["rule"] not in held]
    if new:
        dst.execute(checkpoints.insert(), new)
    for row in batch:
        if row["rule"] in held and row["evaluated_at"] > held[row["rule"]]:  # type: ignore[operator]
            dst.execute(update(checkpoints).where(checkpoints.c.rule == row["rule"])
                        .values(evaluated_at=row["evaluated_at"]))


def _move_sequences(dst: Connection) -> None:
    """Rows inserted with their ids leave PostgreSQL's sequences at 1: the next alert would take a copied id."""
    for table in (alerts, deliveries, history):
        dst.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
            f"FROM {table.name}")
