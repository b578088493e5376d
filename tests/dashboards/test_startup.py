"""`yuqing run` binds the dashboard's port before it prints the address, and a taken port is a config error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(f"[[schemes]]\nname = 'co'\nkeywords = ['北辰燃料乙醇']\n[store]\npath = 'var'\n"
                    f"[dashboard]\nport = {port}\n", encoding="utf-8")
    return path


def _run(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("YUQING_")}
    return subprocess.Popen([sys.executable, "-m", "yuqing.cli", "run", "--config", str(_config(tmp_path, port))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**env, "PYTHONPATH": str(REPO)})


def test_a_taken_port_exits_2_with_one_line_before_any_address_is_printed(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        child = _run(tmp_path, port)
        stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 2, stderr
    assert stderr == (f"yuqing: config error: the dashboard cannot listen on 127.0.0.1:{port}: Address already in "
                      f"use; stop what uses it or choose another [dashboard] port\n")
    assert "dashboard at" not in stdout


def test_the_printed_address_answers_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = _run(tmp_path, port)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert f"dashboard at http://127.0.0.1:{port}/" in line, child.stderr.read() if child.stderr else ""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200 and answer.headers["X-Frame-Options"] == "DENY"
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
    assert child.returncode == 0


def test_the_demo_on_a_taken_port_says_which_option_to_change(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("YUQING_")}
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "yuqing.cli", "demo", "--port", str(port)], capture_output=True,
                              text=True, cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)}, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"yuqing demo: cannot start the dashboard on port {port} (Address already in use); try --port {port + 1}"]
    assert "dashboard:" not in done.stdout
