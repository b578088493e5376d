"""The alert state's API, on SQLite and on a real PostgreSQL server (tests/postgres.py): one alert by id, lists,
people's moves with their history, one alert per key whoever writes at once, the outbox, the revisions the store's
copy follows, and databases of earlier shapes, which open with every row kept."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

import settings as config
from alerts.state import (ACTIONS, AlertActionError, AlertChange, AlertState, AlertStateError, NewAlert, Outgoing,
                          alerts, metadata)
from models import SHANGHAI

T0 = datetime(2024, 3, 5, 14, 44, tzinfo=SHANGHAI)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'alerts.db').as_posix()}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def state(state_url: str) -> Iterator[AlertState]:
    opened = AlertState(state_url)
    yield opened
    opened.close()


def _open(state: AlertState, n: int, scheme: str = "co", at: datetime = T0) -> int:
    alert_id = state.open_alert(NewAlert(
        f"post:{scheme}:news:{n}", "kw", scheme, "high", f"北辰燃料乙醇 恶臭 {n}", "敏感词：恶臭",
        f"http://127.0.0.1/n/{n}.html", {"title": "x"}, reasons=[{"rule": "kw", "title": "kw", "reason": "敏感词：恶臭"}],
        post_ids=[f"news:{n}"]), None, at)
    assert alert_id is not None
    return alert_id


def test_get_and_list(state: AlertState) -> None:
    first, second, third = _open(state, 1), _open(state, 2, at=T0 + timedelta(minutes=1)), _open(state, 3, "other")
    alert = state.get(first)
    assert alert is not None and alert["state"] == "open" and alert["severity"] == "high"
    assert alert["created_at"] == T0 and alert["created_at"].tzinfo is not None
    assert alert["reasons"] == [{"rule": "kw", "title": "kw", "reason": "敏感词：恶臭"}]
    assert alert["post_ids"] == ["news:1"] and alert["escalation_level"] == 0 and alert["assignee"] is None
    assert state.get(999) is None
    assert [a["id"] for a in state.list_alerts(scheme="co")] == [second, first]
    assert [a["id"] for a in state.list_alerts(limit=2, offset=1)] == [third, first]  # same time: newer id first
    state.act(third, "resolve", "张三", T0 + timedelta(minutes=5))
    assert [a["id"] for a in state.list_alerts(state="resolved")] == [third]
    assert [a["id"] for a in state.list_alerts(state="open")] == [second, first]


def test_moves_and_their_history(state: AlertState) -> None:
    alert_id = _open(state, 1)
    at = T0 + timedelta(minutes=3)
    acked = state.act(alert_id, "ack", "张三", at, note="在核实")
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "张三" and acked["acknowledged_at"] == at
    assigned = state.act(alert_id, "assign", "张三", at, assignee="李四")
    assert assigned["assignee"] == "李四" and assigned["state"] == "acknowledged"
    state.act(alert_id, "note", "李四", at, note="已联系环保局")
    resolved = state.act(alert_id, "resolve", "李四", at + timedelta(hours=1))
    assert resolved["state"] == "resolved" and resolved["resolved_at"] == at + timedelta(hours=1)
    reopened = state.act(alert_id, "reopen", "王五", at + timedelta(hours=2), note="又有新帖")
    assert reopened["state"] == "open" and reopened["resolved_at"] is None and reopened["acknowledged_by"] is None
    assert reopened["updated_at"] == at + timedelta(hours=2)
    steps = state.history(alert_id)
    assert [(h["who"], h["action"]) for h in steps] == [
        ("system", "open"), ("张三", "ack"), ("张三", "assign"), ("李四", "note"), ("李四", "resolve"),
        ("王五", "reopen")]
    assert steps[1]["note"] == "在核实" and steps[2]["detail"] == "指派给 李四" and steps[1]["at"] == at


@pytest.mark.parametrize(("moves", "refused", "says"), [
    (["resolve"], "ack", "已解决"),
    (["resolve"], "assign", "已解决"),
    (["resolve"], "resolve", "已经解决"),
    ([], "reopen", "没有解决"),
    (["ack"], "reopen", "没有解决"),
    (["ack"], "ack", "已由 张三 确认"),
])
def test_refused_moves_change_nothing(state: AlertState, moves: list[str], refused: str, says: str) -> None:
    alert_id = _open(state, 1)
    for move in moves:
        state.act(alert_id, move, "张三", T0)
    before, steps = state.get(alert_id), len(state.history(alert_id))
    with pytest.raises(AlertActionError, match=says):
        state.act(alert_id, refused, "张三", T0, assignee="李四")
    assert state.get(alert_id) == before and len(state.history(alert_id)) == steps


def test_unknown_alert_action_or_missing_words_are_refused(state: AlertState) -> None:
    alert_id = _open(state, 1)
    with pytest.raises(AlertActionError, match="没有编号为 42 的预警"):
        state.act(42, "ack", "张三", T0)
    with pytest.raises(AlertActionError, match="escalate"):
        state.act(alert_id, "escalate", "张三", T0)
    with pytest.raises(AlertActionError, match="指派给谁"):
        state.act(alert_id, "assign", "张三", T0)
    with pytest.raises(AlertActionError, match="备注不能为空"):
        state.act(alert_id, "note", "张三", T0, note="  ")
    with pytest.raises(AlertActionError, match="是谁"):
        state.act(alert_id, "ack", " ", T0)
    assert ACTIONS == ("ack", "assign", "resolve", "reopen", "note")
    assert len(state.history(alert_id)) == 1


# The tables as the release before events wrote them.
OLD_SCHEMA = """
CREATE TABLE alerts (
    id INTEGER NOT NULL, rule VARCHAR(200) NOT NULL, scheme VARCHAR(200) NOT NULL, post_id VARCHAR(200) NOT NULL,
    severity VARCHAR(20) NOT NULL, state VARCHAR(20) NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL,
    url TEXT NOT NULL, created_at DATETIME NOT NULL, payload JSON NOT NULL, acknowledged_by VARCHAR(200),
    acknowledged_at DATETIME, resolved_at DATETIME, PRIMARY KEY (id),
    CONSTRAINT one_alert_per_rule_and_post UNIQUE (rule, post_id));
CREATE TABLE checkpoints (rule VARCHAR(200) NOT NULL, evaluated_at DATETIME NOT NULL, PRIMARY KEY (rule));
CREATE TABLE deliveries (
    id INTEGER NOT NULL, alert_id INTEGER NOT NULL, channel VARCHAR(50) NOT NULL, recipients JSON NOT NULL,
    status VARCHAR(20) NOT NULL, attempts INTEGER NOT NULL, next_attempt_at DATETIME NOT NULL, last_error TEXT,
    sent_at DATETIME, PRIMARY KEY (id), FOREIGN KEY(alert_id) REFERENCES alerts (id));
CREATE INDEX ix_deliveries_status ON deliveries (status);
CREATE INDEX ix_deliveries_alert_id ON deliveries (alert_id);
"""


def _old_db(folder: Path) -> Path:
    folder.mkdir()
    db = folder / "alerts.db"
    post = {"rule": "kw", "scheme": "co", "severity": "high", "reason": "敏感词：恶臭", "title": "北辰燃料乙醇 恶臭",
            "url": "http://127.0.0.1/n/1.html", "source": "news", "platform": "news", "source_tier": "local_media",
            "author": "河西小区业主", "published": "2024-03-05 14:40", "excerpt": "恶臭", "post_id": "news:1",
            "dashboard_url": "http://127.0.0.1:8000/"}
    source = {"template": "source", "rule": "source-health", "scheme": "采集源", "severity": "high",
              "reason": "无新数据", "title": "forum 无新数据", "url": "http://127.0.0.1/f/", "source": "forum"}
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.executemany("INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            (1, "kw", "co", "news:1", "high", "acknowledged", "北辰燃料乙醇 恶臭", "敏感词：恶臭", post["url"],
             "2024-03-05 06:44:00.000000", json.dumps(post, ensure_ascii=False), "张三",
             "2024-03-05 06:50:00.000000", None),
            (2, "neg", "co", "news:1", "medium", "open", "北辰燃料乙醇 恶臭", "负面情绪", post["url"],
             "2024-03-05 06:44:00.500000", json.dumps({**post, "rule": "neg"}, ensure_ascii=False), None, None, None),
            (3, "source-health", "采集源", "source:forum:2024-03-05T10:00:00+08:00", "high", "resolved",
             "forum 无新数据", "无新数据", source["url"], "2024-03-05 03:00:00.000000",
             json.dumps(source, ensure_ascii=False), None, None, "2024-03-05 04:00:00.000000"),
        ])
        conn.executemany("INSERT INTO deliveries VALUES (?,?,?,?,?,?,?,?,?)", [
            (1, 1, "email", '["oncall@example.com"]', "sent", 1, "2024-03-05 06:44:00.000000", None,
             "2024-03-05 06:44:01.000000"),
            (2, 2, "email", '["oncall@example.com"]', "pending", 2, "2024-03-05 06:46:00.000000", "refused", None),
        ])
        conn.execute("INSERT INTO checkpoints VALUES ('kw', '2024-03-05 06:44:00.000000')")
    return db


def test_an_alerts_db_of_the_earlier_shape_opens_with_every_row(tmp_path: Path) -> None:
    db = _old_db(tmp_path / "old")
    state = AlertState.for_data_dir(db.parent)
    try:
        first, second, source = state.get(1), state.get(2), state.get(3)
        assert first and second and source
        assert first["state"] == "acknowledged" and first["acknowledged_by"] == "张三"
        assert first["acknowledged_at"] == datetime(2024, 3, 5, 14, 50, tzinfo=SHANGHAI)
        assert first["created_at"] == T0 and first["key"] == "rule:kw:news:1" and first["post_ids"] == ["news:1"]
        assert first["reasons"] == [{"rule": "kw", "title": "kw", "reason": "敏感词：恶臭"}]
        assert first["payload"]["author"] == "河西小区业主" and first["payload"]["severity_label"] == "高"
        assert second["key"] == "rule:neg:news:1" and second["severity"] == "medium"
        assert source["key"] == "source:forum:2024-03-05T10:00:00+08:00" and source["state"] == "resolved"
        assert source["payload"]["kind"] == "source"
        assert [a["id"] for a in state.list_alerts(scheme="co")] == [1, 2]  # 1 was acknowledged after 2 came
        assert state.checkpoint("kw") == T0
        [waiting] = state.due_deliveries(T0 + timedelta(minutes=5))
        assert (waiting.id, waiting.alert_id, waiting.kind, waiting.attempts) == (2, 2, "open", 2)
        assert waiting.key == waiting.alert_key == "2.20240305064400500000"  # as the earlier release named it
        assert waiting.payload["summary"] == "负面情绪" and waiting.payload["kind"] == "open"
        assert [d["status"] for d in state.deliveries_of(1)] == ["sent"]
        # The old rows move on like new ones, and leave history.
        assert state.act(2, "ack", "李四", T0 + timedelta(hours=1))["state"] == "acknowledged"
        assert [h["action"] for h in state.history(2)] == ["ack"]
        assert _open(state, 7) == 4  # numbering goes on after the copied rows
    finally:
        state.close()
    with sqlite3.connect(db) as conn:  # the copy took the old table's place and name; nothing is left over
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "alerts_new" not in tables and {"alerts", "deliveries", "alert_posts", "alert_history"} <= tables
        assert conn.execute("SELECT alert_id FROM alert_posts WHERE post_id = 'news:1'").fetchall() == [(1,)]
    again = AlertState.for_data_dir(db.parent)  # opening it again changes nothing
    try:
        assert again.get(1) == first and len(again.list_alerts()) == 4
    finally:
        again.close()


def test_one_alert_per_key_whoever_writes_at_once(state_url: str) -> None:
    """Services (or a service and a one-off command) that open the same alert at once make one, with one mail."""
    writers = [AlertState(state_url) for _ in range(6)]
    start = threading.Barrier(len(writers))
    opened: list[int | None] = []

    def write(writer: AlertState) -> None:
        start.wait()
        opened.append(writer.open_alert(NewAlert(
            "event:co:evt:1", "kw", "co", "high", "北辰 恶臭", "敏感词：恶臭", "http://127.0.0.1/n/1.html", {},
            "evt:1", post_ids=["news:1"]), Outgoing("open", {}, [("email", ["oncall@example.com"])]), T0))

    threads = [threading.Thread(target=write, args=(writer,)) for writer in writers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        winners = [alert_id for alert_id in opened if alert_id is not None]
        assert len(opened) == len(writers) and len(winners) == 1
        assert len(writers[0].list_alerts()) == 1 and len(writers[0].deliveries_of(winners[0])) == 1
        assert writers[0].fed("co", ["news:1"]) == {"news:1"}
    finally:
        for writer in writers:
            writer.close()


def test_the_outbox_sends_retries_holds_and_merges(state: AlertState) -> None:
    mail = Outgoing("open", {"title": "北辰 恶臭"}, [("email", ["a@example.com"]), ("email", ["b@example.com"])])
    alert_id = state.open_alert(NewAlert("post:co:news:1", "kw", "co", "high", "北辰 恶臭", "敏感词：恶臭",
                                         "http://127.0.0.1/n/1.html", {}, post_ids=["news:1"]), mail, T0)
    assert alert_id is not None
    first, second = state.due_deliveries(T0)
    assert (first.recipients, second.recipients) == (["a@example.com"], ["b@example.com"])
    assert first.key == second.key == first.alert_key and first.thread is None and first.payload["title"] == "北辰 恶臭"
    state.mark_sent(first.id, T0)
    state.mark_failed(second.id, "421 busy", T0 + timedelta(minutes=1))
    assert state.due_deliveries(T0) == []
    [retry] = state.due_deliveries(T0 + timedelta(minutes=1))
    assert retry.id == second.id and retry.attempts == 1
    state.follow_up(alert_id, Outgoing("digest", {"new_posts": 2}, [("email", ["a@example.com"])], held=True), T0)
    [held] = state.held()
    assert held.thread == first.key and held.key == f"{first.key}.1"  # the next message of the alert's thread
    state.merge_held([held], [(alert_id, Outgoing("digest", {"items": 1}, [("email", ["a@example.com"])]))], T0)
    assert state.held() == [] and [d["status"] for d in state.deliveries_of(alert_id)] == [
        "sent", "pending", "merged", "pending"]
    state.set_checkpoint("kw", T0)
    state.set_checkpoint("kw", T0 + timedelta(minutes=5))
    assert state.checkpoint("kw") == T0 + timedelta(minutes=5)


def test_every_change_leaves_the_alert_to_copy_until_the_store_takes_that_revision(state: AlertState) -> None:
    first, second = _open(state, 1), _open(state, 2)
    copies = state.unsynced(10)
    assert [c.alert_id for c in copies] == [first, second] and copies[0].key == "post:co:news:1"
    assert copies[0].fields == state.get(first)
    state.act(first, "ack", "张三", T0 + timedelta(minutes=1))  # changed after it was read, before it was taken
    state.mark_synced(copies)
    [changed] = state.unsynced(10)
    assert changed.alert_id == first and changed.revision > copies[0].revision
    assert changed.fields["state"] == "acknowledged"
    state.mark_synced([changed])
    state.mark_synced(copies)  # a late report of an older copy does not undo the newer one's
    assert state.unsynced(10) == []
    assert [c.alert_id for c in state.unsynced(10, everything=True)] == [first, second]
    assert [c.alert_id for c in state.unsynced(1, after=first, everything=True)] == [second]
    state.update_payload(second, {"responses": ["已回应"]})
    state.resolve_by_system(first, T0 + timedelta(hours=1), "恢复")
    assert [c.alert_id for c in state.unsynced(10)] == [first, second]
    state.mark_synced(state.unsynced(10))
    state.change(first, AlertChange("critical", "敏感词：恶臭", [], {}, ["news:9"], reopen=True), None, T0)
    state.follow_up(second, Outgoing("escalation", {}, [("email", ["boss@example.com"])]), T0, escalation_level=1)
    copies = state.unsynced(10)
    assert [(c.fields["state"], c.fields["severity"], c.fields["post_ids"]) for c in copies] == [
        ("open", "critical", ["news:1", "news:9"]), ("open", "high", ["news:2"])]
    assert copies[1].fields["escalation_level"] == 1


def test_a_database_from_before_the_stores_copy_opens_with_every_alert_still_to_copy(state_url: str) -> None:
    """The shape before revisions: every table as now, the alerts without their two revision columns."""
    engine = create_engine(state_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE alerts DROP COLUMN revision")
            conn.exec_driver_sql("ALTER TABLE alerts DROP COLUMN synced")
            conn.exec_driver_sql(
                "INSERT INTO alerts (id, key, rule, scheme, post_id, severity, state, title, summary, url, reasons, "
                "post_ids, created_at, updated_at, opened_at, escalation_level, mailed_posts, payload) VALUES (1, "
                "'post:co:news:1', 'kw', 'co', 'news:1', 'high', 'open', '北辰 恶臭', '敏感词：恶臭', "
                "'http://127.0.0.1/n/1.html', '[]', '[\"news:1\"]', '2024-03-05 06:44:00', '2024-03-05 06:44:00', "
                "'2024-03-05 06:44:00', 0, 1, '{}')")
    finally:
        engine.dispose()
    state = AlertState(state_url)
    try:
        [copy] = state.unsynced(10)
        assert (copy.alert_id, copy.key, copy.revision) == (1, "post:co:news:1", 1)
        acked = state.act(1, "ack", "张三", T0)
        assert acked["state"] == "acknowledged" and state.unsynced(10)[0].revision > 1
        with state.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 1
    finally:
        state.close()
    AlertState(state_url).close()  # opening it again changes nothing


def test_the_state_url_setting_with_its_password_from_the_environment(postgres_url: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    password = postgres_url.split("@")[0].rsplit(":", 1)[1]
    plain = postgres_url.replace(f":{password}@", "@").replace("postgresql+psycopg://", "postgresql://")
    monkeypatch.setenv("YUQING_ALERTS__STATE_URL", plain)
    monkeypatch.setenv("YUQING_ALERTS__STATE_PASSWORD", password)
    settings = config.Settings(store={"path": tmp_path / "var"})
    state = AlertState.for_settings(settings)
    try:
        assert state.engine.dialect.name == "postgresql" and _open(state, 1) == 1
    finally:
        state.close()
    assert not (tmp_path / "var" / "alerts.db").exists()
    monkeypatch.setenv("YUQING_ALERTS__STATE_PASSWORD", "wrong")
    with pytest.raises(AlertStateError) as refused:
        AlertState.for_settings(config.Settings(store={"path": tmp_path / "var"}))
    message = str(refused.value)
    assert "cannot be used" in message and "password authentication failed" in message
    assert "\n" not in message and "wrong" not in message and password not in message


def test_without_a_state_url_the_state_is_alerts_db_in_the_data_folder(tmp_path: Path) -> None:
    state = AlertState.for_settings(config.Settings(store={"path": tmp_path / "var"}))
    try:
        assert state.engine.dialect.name == "sqlite" and _open(state, 1) == 1
    finally:
        state.close()
    assert (tmp_path / "var" / "alerts.db").is_file()


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://yuqing@db/yuqing", "'mysql' is not a database yuqing keeps alerts in"),
    ("db.example.com/yuqing", "not a database URL"),
])
def test_a_state_url_yuqing_cannot_use_is_a_config_error(url: str, says: str, tmp_path: Path) -> None:
    (tmp_path / "yuqing.toml").write_text(f'[alerts]\nstate_url = "{url}"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError, match=says):
        config.load(tmp_path / "yuqing.toml")


def test_a_password_written_in_the_state_url_is_advised_against_and_masked(tmp_path: Path) -> None:
    (tmp_path / "yuqing.toml").write_text('[alerts]\nstate_url = "postgresql://yuqing:s3cret@db/yuqing"\n',
                                          encoding="utf-8")
    advice: list[str] = []
    settings = config.load(tmp_path / "yuqing.toml", warn=advice.append)
    assert any("YUQING_ALERTS__STATE_PASSWORD" in line for line in advice)
    assert config.masked(settings)["alerts"]["state_url"] == "postgresql://yuqing:***@db/yuqing"


def test_an_alert_state_in_a_folder_that_does_not_exist_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "alerts.db"
    with pytest.raises(AlertStateError, match="its folder .*nowhere does not exist; create it") as raised:
        AlertState(f"sqlite:///{missing.as_posix()}")
    assert "damaged" not in str(raised.value) and not missing.parent.exists()
