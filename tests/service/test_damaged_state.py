"""A damaged alerts.db (bytes overwritten, file truncated) is named, with what to do, instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.state import AlertState, AlertStateError, NewAlert, Outgoing
from models import now
from tests.service.conftest import write_idle_config



def _overwrite_header(db: Path) -> None:
    with db.open("r+b") as file:
        file.write(b"\x00garbage" * 8)


def _overwrite_middle(db: Path) -> None:
    with db.open("r+b") as file:
        file.seek(db.stat().st_size // 2)
        file.write(b"\xff" * 8192)


def _truncate(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "header overwritten": _overwrite_header, "middle overwritten": _overwrite_middle, "truncated": _truncate}


def damaged_state(data: Path, damage: Callable[[Path], None]) -> Path:
    state = AlertState.for_data_dir(data)
    for n in range(300):  # a few hundred alerts, so that the file has pages to break
        alert = NewAlert(f"post:co:news:{n}", "kw", "co", "high", "北辰燃料乙醇 恶臭" * 10, "敏感词：恶臭" * 20,
                         f"http://127.0.0.1/n/{n}.html", {"excerpt": "居民投诉" * 100}, post_ids=[f"news:{n}"])
        state.open_alert(alert, Outgoing("open", {}, [("email", ["oncall@example.com"])]), now())
    state.close()
    db = data / "alerts.db"
    damage(db)
    return db


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_state_is_refused_on_opening(tmp_path: Path, damage: str) -> None:
    db = damaged_state(tmp_path, DAMAGE[damage])
    with pytest.raises(AlertStateError) as refused:
        AlertState.for_data_dir(tmp_path)
    message = str(refused.value)
    assert message.startswith(f"{db} is damaged (") and "restore it from a backup, or move it aside" in message
    assert "\n" not in message


@pytest.mark.parametrize(("command", "damage"), [
    (["run"], "header overwritten"), (["sources"], "truncated"), (["crawl", "news"], "middle overwritten")])
def test_commands_name_the_damaged_file_and_stop(tmp_path: Path, command: list[str], damage: str) -> None:
    write_idle_config(tmp_path)
    damaged_state(tmp_path / "var", DAMAGE[damage])
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", *command], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("yuqing: var/alerts.db is damaged (") and "restore it from a backup" in line
