"""`yuqing alerts migrate --from alerts.db`: an alert state copied whole, ids kept, in one transaction, into the
state the configuration names, on a real PostgreSQL server (tests/postgres.py) and on SQLite; refused, changing
nothing, into a state in use, from a file that is no alert state, into itself, while the service runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from alerts.state import AlertChange, AlertState, NewAlert, Outgoing
from alerts.transfer import TABLES, copy_state
from models import SHANGHAI
from tests.alerts.test_state import _old_db
from tests.service.test_damaged_state import DAMAGE, damaged_state
from yuqing.lock import StoreLock

T0 = datetime(2024, 3, 5, 14, 44, tzinfo=SHANGHAI)
MAIL = Outgoing("open", {"title": "北辰 恶臭"}, [("email", ["oncall@example.com"])])


@pytest.fixture(params=["sqlite", "postgresql"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        (tmp_path / "cluster").mkdir()
        return f"sqlite:///{(tmp_path / 'cluster' / 'state.db').as_posix()}"
    return request.getfixturevalue("postgres_url")


def _config(folder: Path, url: str) -> Path:
    """The configuration of the cluster: state_url without its password, which comes from the environment."""
    plain = make_url(url).set(password=None).render_as_string(hide_password=False) if url else ""
    path = folder / "yuqing.toml"
    path.write_text(f'[store]\npath = "var"\n\n[alerts]\nstate_url = "{plain}"\n', encoding="utf-8")
    return path


def migrate(folder: Path, url: str, source: str = "var/alerts.db") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YUQING_ALERTS__STATE_PASSWORD": make_url(url).password or ""} if url else dict(os.environ)
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "alerts", "migrate", "--from", source, "--config",
                           str(_config(folder, url))], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def _refused(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    return line


def _source(folder: Path) -> AlertState:
    """An alerts.db with what a service leaves: an open alert fed posts with pending mail, one acknowledged and
    resolved whose mail went, a checkpoint."""
    state = AlertState.for_data_dir(folder / "var")
    feeding = state.open_alert(NewAlert(
        "event:co:evt:1", "kw", "co", "high", "北辰燃料乙醇 恶臭", "敏感词：恶臭", "http://127.0.0.1/n/1.html",
        {"title": "北辰燃料乙醇 恶臭"}, "evt:1", [{"rule": "kw", "title": "敏感词", "reason": "恶臭"}],
        ["news:1", "news:2"]), MAIL, T0)
    handled = state.open_alert(NewAlert(
        "post:co:news:9", "neg", "co", "medium", "河西小区 投诉", "负面情绪", "http://127.0.0.1/n/9.html", {},
        post_ids=["news:9"]), MAIL, T0 + timedelta(minutes=1))
    assert feeding == 1 and handled == 2
    grown = AlertChange("critical", "敏感词：恶臭、爆炸", [{"rule": "kw", "title": "敏感词", "reason": "爆炸"}],
                        {"title": "北辰燃料乙醇 爆炸"}, ["news:3"])
    state.change(feeding, grown, None, T0 + timedelta(minutes=2))
    [sent] = [d for d in state.due_deliveries(T0 + timedelta(minutes=5)) if d.alert_id == handled]
    state.mark_sent(sent.id, T0 + timedelta(minutes=1))
    state.act(handled, "ack", "张三", T0 + timedelta(minutes=3), note="在处理")
    state.act(handled, "resolve", "张三", T0 + timedelta(minutes=30))
    state.set_checkpoint("kw", T0 + timedelta(minutes=2))
    return state


def _rows(state: AlertState) -> dict[str, list[dict[str, Any]]]:
    with state.engine.connect() as conn:
        return {t.name: [dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()]
                for t in TABLES}


def _rows_at(url: str) -> dict[str, list[dict[str, Any]]]:
    state = AlertState(url)
    try:
        return _rows(state)
    finally:
        state.close()


@pytest.fixture
def source(tmp_path: Path) -> Iterator[dict[str, list[dict[str, Any]]]]:
    state = _source(tmp_path)
    try:
        yield _rows(state)
    finally:
        state.close()


def test_every_row_arrives_with_its_id_and_the_state_goes_on_from_there(
        tmp_path: Path, target_url: str, source: dict[str, list[dict[str, Any]]]) -> None:
    done = migrate(tmp_path, target_url)
    assert done.returncode == 0, done.stderr
    assert "2 alerts, 2 deliveries, 4 alert_posts, 5 alert_history, 1 checkpoints" in done.stdout
    assert "start the service" in done.stdout and "var/alerts.db is left as it is" in done.stdout
    assert "password" not in done.stdout.lower() and (make_url(target_url).password or "@@") not in done.stdout
    target = AlertState(target_url)
    try:
        assert _rows(target) == source and len(source["alert_history"]) == 5
        # The pending mail goes out from here, once; the sent one never again.
        [due] = target.due_deliveries(T0 + timedelta(hours=1))
        assert (due.id, due.alert_id, due.key) == (1, 1, due.alert_key)
        assert [d["status"] for d in target.deliveries_of(2)] == ["sent"]
        assert target.fed("co", ["news:1", "news:3", "news:4"]) == {"news:1", "news:3"}
        assert target.checkpoint("kw") == T0 + timedelta(minutes=2)
        assert target.get(2)["state"] == "resolved"  # type: ignore[index]
        # Numbering goes on past the copied ids: the next alert, its mail and its history take new ones.
        new = target.open_alert(NewAlert("post:co:news:20", "kw", "co", "high", "新", "新", "http://127.0.0.1/n/20",
                                         {}, post_ids=["news:20"]), MAIL, T0 + timedelta(hours=2))
        assert new == 3 and [d["id"] for d in target.deliveries_of(3)] == [3]
        target.act(1, "note", "李四", T0 + timedelta(hours=2), note="跟进")
        assert [h["action"] for h in target.history(1)] == ["open", "update", "note"]
        after = _rows(target)
    finally:
        target.close()
    # A second run refuses, saying why, and changes nothing.
    line = _refused(migrate(tmp_path, target_url))
    assert "already holds 3 alerts, 3 deliveries" in line and "does not merge" in line
    assert _rows_at(target_url) == after


def test_rows_go_in_chunks_in_their_order(tmp_path: Path, target_url: str,
                                          source: dict[str, list[dict[str, Any]]]) -> None:
    old, new = AlertState.for_data_dir(tmp_path / "var"), AlertState(target_url)
    try:
        assert copy_state(old, new, chunk=2)["alert_history"] == 5
        assert _rows(new) == source
    finally:
        old.close()
        new.close()


def _refuse_history(url: str) -> None:
    """The target refuses a history row, after the alerts went in: the copy stops in the middle."""
    state = AlertState(url)
    try:
        with state.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON alert_history "
                                     "BEGIN SELECT RAISE(ABORT, 'history refused'); END")
            else:
                conn.exec_driver_sql("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                                     "RAISE EXCEPTION 'history refused'; END $$ LANGUAGE plpgsql")
                conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON alert_history "
                                     "FOR EACH ROW EXECUTE FUNCTION refuse()")
    finally:
        state.close()


def _drop_refusal(url: str) -> None:
    state = AlertState(url)
    try:
        with state.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse" + (" ON alert_history" if conn.dialect.name != "sqlite" else ""))
    finally:
        state.close()


def test_a_row_the_target_refuses_leaves_it_empty(tmp_path: Path, target_url: str,
                                                 source: dict[str, list[dict[str, Any]]]) -> None:
    _refuse_history(target_url)
    line = _refused(migrate(tmp_path, target_url))
    assert "copying alert_history failed" in line and "history refused" in line and "nothing was copied" in line
    assert all(rows == [] for rows in _rows_at(target_url).values())
    _drop_refusal(target_url)
    assert migrate(tmp_path, target_url).returncode == 0  # the same copy, once the cause is gone


def test_a_value_postgresql_refuses_and_sqlite_kept_leaves_the_target_empty(tmp_path: Path, postgres_url: str,
                                                                         source: Any) -> None:
    """SQLite keeps a string longer than its column; PostgreSQL refuses it, and with it the whole copy."""
    state = AlertState.for_data_dir(tmp_path / "var")
    try:
        state.act(1, "note", "值班员" * 100, T0 + timedelta(hours=1), note="太长的名字")
    finally:
        state.close()
    line = _refused(migrate(tmp_path, postgres_url))
    assert "copying alert_history failed" in line and "too long" in line
    assert all(rows == [] for rows in _rows_at(postgres_url).values())


def test_an_alerts_db_of_the_earlier_shape_is_brought_up_and_copied(tmp_path: Path, target_url: str) -> None:
    _old_db(tmp_path / "var")
    done = migrate(tmp_path, target_url)
    assert done.returncode == 0, done.stderr
    assert "3 alerts, 2 deliveries, 1 alert_posts, 0 alert_history, 1 checkpoints" in done.stdout
    target = AlertState(target_url)
    try:
        assert [a["key"] for a in sorted(target.list_alerts(), key=lambda a: a["id"])] == [
            "rule:kw:news:1", "rule:neg:news:1", "source:forum:2024-03-05T10:00:00+08:00"]
        [waiting] = target.due_deliveries(T0 + timedelta(minutes=5))
        assert (waiting.id, waiting.alert_id, waiting.key) == (2, 2, "2.20240305064400500000")
        assert target.checkpoint("kw") == T0
    finally:
        target.close()


def test_a_checkpoint_the_target_has_already_holds_when_later(tmp_path: Path, target_url: str, source: Any) -> None:
    """A service started on the new state before the copy, without alerting, evaluated its rules further."""
    target = AlertState(target_url)
    try:
        target.set_checkpoint("kw", T0 + timedelta(hours=5))
        target.set_checkpoint("neg", T0)
    finally:
        target.close()
    assert migrate(tmp_path, target_url).returncode == 0
    target = AlertState(target_url)
    try:
        assert (target.checkpoint("kw"), target.checkpoint("neg")) == (T0 + timedelta(hours=5), T0)
    finally:
        target.close()


def test_refused_without_a_separate_state_or_a_source_or_into_itself(tmp_path: Path) -> None:
    _source(tmp_path).close()
    line = _refused(migrate(tmp_path, ""))
    assert "[alerts] state_url is not set" in line and "set state_url" in line
    own = f"sqlite:///{(tmp_path / 'var' / 'alerts.db').as_posix()}"
    assert "are the same database" in _refused(migrate(tmp_path, own))
    target = f"sqlite:///{(tmp_path / 'cluster' / 'state.db').as_posix()}"
    assert "var/nothing.db: no such file" in _refused(migrate(tmp_path, target, "var/nothing.db"))
    (tmp_path / "notes.txt").write_text("不是数据库\n" * 200, encoding="utf-8")
    assert "notes.txt is not an alert state (not an SQLite database" in _refused(migrate(tmp_path, target,
                                                                                        "notes.txt"))
    import sqlite3

    with sqlite3.connect(tmp_path / "posts.db") as conn:
        conn.execute("CREATE TABLE posts (id TEXT PRIMARY KEY)")
    assert "posts.db is not an alert state (it has no alerts table)" in _refused(migrate(tmp_path, target,
                                                                                       "posts.db"))
    with sqlite3.connect(tmp_path / "posts.db") as conn:  # and it was left as it was
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["posts"]


@pytest.mark.parametrize("damage", ["middle overwritten", "truncated"])
def test_a_damaged_alerts_db_is_named_as_any_damaged_one(tmp_path: Path, damage: str) -> None:
    damaged_state(tmp_path / "old", DAMAGE[damage])
    line = _refused(migrate(tmp_path, f"sqlite:///{(tmp_path / 'cluster' / 'state.db').as_posix()}",
                            "old/alerts.db"))
    assert line.startswith("yuqing: old/alerts.db is damaged (") and "restore it from a backup" in line


def test_refused_while_the_service_holds_the_store_folder(tmp_path: Path, target_url: str, source: Any) -> None:
    with StoreLock(tmp_path / "var"):
        line = _refused(migrate(tmp_path, target_url))
    assert "in use by another yuqing process" in line and "the service must not run" in line
    assert _rows_at(target_url)["alerts"] == []
