"""One writer per store: a second `yuqing run`, `crawl`, `reindex` or `demo` on the same store is refused at
once, naming the one that runs; a lock left by a process killed with SIGKILL blocks nothing."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.service.conftest import write_idle_config
from yuqing.lock import LOCK_FILE, StoreBusy, StoreLock

REPO = Path(__file__).resolve().parents[2]



class Running:
    """A yuqing command left running, its output read line by line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "yuqing.cli", *args], cwd=cwd, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout or ():
            self.lines.put(line)

    def expect(self, marker: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.seen.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if marker in self.seen[-1]:
                return
        raise AssertionError(f"no {marker!r} within {seconds}s:\n{''.join(self.seen)}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        time.sleep(0.2)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code


def yuqing(*args: str, cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    return done, time.monotonic() - started


def refused(done: subprocess.CompletedProcess[str], pid: int) -> bool:
    lines = done.stderr.strip().splitlines()
    return (done.returncode == 1 and len(lines) == 1 and f"(pid {pid}, running since " in lines[0]
            and " is in use by another yuqing process" in lines[0])


def test_a_second_writer_is_refused_and_a_killed_one_blocks_nothing(tmp_path: Path) -> None:
    write_idle_config(tmp_path)
    first = Running("run", cwd=tmp_path)
    try:
        first.expect("dashboard at")
        # Another dashboard port, so that only the store stands in its way.
        done, took = yuqing("run", cwd=tmp_path, YUQING_DASHBOARD__PORT=str(free_port()))
        assert refused(done, first.process.pid), done.stderr
        assert took < 15 and "Traceback" not in done.stderr
        done, _ = yuqing("crawl", "news", cwd=tmp_path)
        assert refused(done, first.process.pid), done.stderr
        done, _ = yuqing("reindex", cwd=tmp_path)
        assert refused(done, first.process.pid), done.stderr
        assert first.process.poll() is None, "the running one goes on"
    finally:
        first.process.kill()
        first.process.wait()

    assert json.loads((tmp_path / "var" / LOCK_FILE).read_text())["pid"] == first.process.pid  # left behind
    again = Running("run", cwd=tmp_path)
    try:
        again.expect("dashboard at")
    finally:
        assert again.interrupt() == 0, "".join(again.seen)
    done, _ = yuqing("reindex", cwd=tmp_path)
    assert done.returncode == 0 and "reindexed 0 posts" in done.stdout, done.stderr


def test_a_second_demo_leaves_the_first_ones_store_alone(tmp_path: Path) -> None:
    first = Running("demo", "--port", str(free_port()), "--speed", "100", cwd=tmp_path)
    try:
        first.expect("Press Ctrl-C to stop")
        store = tmp_path / "var" / "demo" / "posts.db"
        assert store.exists()
        done, _ = yuqing("demo", "--port", str(free_port()), cwd=tmp_path)
        assert refused(done, first.process.pid), done.stderr
        assert store.exists() and first.process.poll() is None
    finally:
        assert first.interrupt() == 0, "".join(first.seen)


def test_the_lock_in_one_process(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("left by a crash", encoding="utf-8")
    with StoreLock(tmp_path):
        with pytest.raises(StoreBusy, match=rf"\(pid {os.getpid()}, running since "):
            StoreLock(tmp_path).acquire()
    with StoreLock(tmp_path):
        pass
