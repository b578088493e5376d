"""`yuqing alerts`: an officer lists, reads and acts on alerts from a shell; every move is in the history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.state import AlertState, NewAlert
from models import now
from tests.service.conftest import write_idle_config


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
