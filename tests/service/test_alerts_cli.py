"""`yuqing alerts`: an officer lists, reads and acts on alerts from a shell; every move is in the history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import settings as config
from alerts.state import AlertState, NewAlert
from models import now
from tests.service.conftest import write_idle_config
from yuqing.service import Service


def yuqing(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "alerts", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_idle_config(tmp_path)
    state = AlertState.for_data_dir(tmp_path / "var")
    for n, severity in ((1, "high"), (2, "medium")):
        state.open_alert(NewAlert(
            f"event:co:evt:{n}", "kw", "co", severity, f"北辰燃料乙醇厂区恶臭 {n}", "敏感词：恶臭",
            f"http://127.0.0.1/n/{n}.html", {}, f"evt:{n}", [{"rule": "kw", "title": "敏感词", "reason": "恶臭"}],
            [f"news:{n}"]), None, now())
    state.close()
    return tmp_path


def test_list_show_and_act(folder: Path) -> None:
    listed = yuqing("list", "--format", "json", cwd=folder)
    assert listed.returncode == 0, listed.stderr
    assert [a["id"] for a in json.loads(listed.stdout)] == [2, 1]
    table = yuqing("list", cwd=folder)
    assert "北辰燃料乙" in table.stdout and "待处理" in table.stdout and "高" in table.stdout  # folded to fit 80

    acked = yuqing("ack", "1", "--note", "在核实", "--who", "张三", cwd=folder)
    assert acked.returncode == 0 and acked.stdout.strip() == "#1 确认: 已确认", acked.stderr
    assigned = yuqing("assign", "1", "李四", cwd=folder)  # who: the login name
    assert assigned.returncode == 0 and "李四" in assigned.stdout
    assert yuqing("note", "1", "环保局已到场", "--who", "李四", cwd=folder).returncode == 0
    assert yuqing("resolve", "1", "--who", "李四", cwd=folder).returncode == 0
    assert yuqing("reopen", "1", "--who", "王五", "--note", "又有新帖", cwd=folder).returncode == 0
    assert json.loads(yuqing("list", "--state", "open", "--format", "json", cwd=folder).stdout)[0]["id"] == 1

    shown = yuqing("show", "1", cwd=folder)
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == "#1 [高] 待处理  北辰燃料乙醇厂区恶臭 1"
    history = lines[lines.index("history:") + 1:]
    assert [line.split()[3] for line in history] == ["创建", "确认", "指派", "备注", "解决", "重新打开"]
    assert "在核实" in history[1] and "指派给 李四" in history[2] and history[1].split()[2] == "张三"
    detail = json.loads(yuqing("show", "1", "--format", "json", cwd=folder).stdout)
    assert detail["state"] == "open" and len(detail["history"]) == 6 and detail["event_id"] == "evt:1"


@pytest.mark.parametrize(("args", "says"), [
    (["ack", "9"], "没有编号为 9 的预警"),
    (["show", "9"], "没有编号为 9 的预警"),
    (["reopen", "2"], "预警 2 没有解决，无需重新打开"),
])
def test_unknown_alerts_and_refused_moves_are_one_line_and_exit_2(folder: Path, args: list[str], says: str) -> None:
    done = yuqing(*args, cwd=folder)
    assert done.returncode == 2 and done.stderr.strip() == f"yuqing: {says}" and done.stdout == ""


def test_a_refused_move_after_resolving(folder: Path) -> None:
    assert yuqing("resolve", "2", cwd=folder).returncode == 0
    done = yuqing("ack", "2", cwd=folder)
    assert done.returncode == 2 and "已解决，不能再确认" in done.stderr and "Traceback" not in done.stderr


def test_a_link_secret_written_in_the_file_is_warned_of(tmp_path: Path) -> None:
    config = write_idle_config(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + '\n[alerts]\nsecret = "0123456789abcdef0123"\n',
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "check-config"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert "[alerts] secret is written in the file" in done.stderr and "YUQING_ALERTS__SECRET" in done.stderr


def test_a_damaged_link_secret_is_one_line(tmp_path: Path) -> None:
    write_idle_config(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "alerts.secret").write_text("short\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "crawl", "news"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("yuqing: var/alerts.secret is damaged") and "delete it" in line


def test_on_postgresql_by_the_state_url_setting(tmp_path: Path, postgres_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line and the service read the alert state [alerts] state_url names; the password comes from
    the environment, and a wrong one is one line, exit 1."""
    write_idle_config(tmp_path)
    state = AlertState(postgres_url)
    state.open_alert(NewAlert("event:co:evt:1", "kw", "co", "high", "北辰燃料乙醇厂区恶臭", "敏感词：恶臭",
                              "http://127.0.0.1/n/1.html", {}, "evt:1", post_ids=["news:1"]), None, now())
    state.close()
    password = postgres_url.split("@")[0].rsplit(":", 1)[1]
    monkeypatch.setenv("YUQING_ALERTS__STATE_URL", postgres_url.replace(f":{password}@", "@"))
    monkeypatch.setenv("YUQING_ALERTS__STATE_PASSWORD", password)
    acked = yuqing("ack", "1", "--who", "张三", cwd=tmp_path)
    assert acked.returncode == 0 and acked.stdout.strip() == "#1 确认: 已确认", acked.stderr
    assert [a["state"] for a in json.loads(yuqing("list", "--format", "json", cwd=tmp_path).stdout)] == ["acknowledged"]
    assert not (tmp_path / "var" / "alerts.db").exists()
    monkeypatch.chdir(tmp_path)  # the configuration's folders are relative to it
    service = Service(config.load(tmp_path / "yuqing.toml"), None)
    try:
        assert service.alert_state.get(1)["acknowledged_by"] == "张三"  # type: ignore[index]
    finally:
        service.stop()

    monkeypatch.setenv("YUQING_ALERTS__STATE_PASSWORD", "wrong")
    refused = yuqing("list", cwd=tmp_path)
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "password authentication failed" in refused.stderr and "Traceback" not in refused.stderr
