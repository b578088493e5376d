"""`yuqing users` and `yuqing run` on an address other machines reach, as an administrator runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dashboards.web.accounts import Accounts
from tests.e2e.conftest import free_port

PASSWORD = "a long enough password"


def yuqing(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "yuqing.toml").write_text(
        f'[store]\npath = "var"\n[dashboard]\nhost = "0.0.0.0"\nallowed_hosts = ["*"]\nport = {free_port()}\n',
        encoding="utf-8")
    return tmp_path


def test_users_add_list_passwd_remove(folder: Path) -> None:
    added = yuqing("users", "add", "张三", "--role", "officer", cwd=folder, stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "张三 (officer) added" in added.stdout, added.stderr
    assert yuqing("users", "add", "root", "--role", "admin", cwd=folder, stdin=PASSWORD + "\n").returncode == 0
    listed = yuqing("users", "list", cwd=folder).stdout.splitlines()
    assert [line.split()[:2] for line in listed] == [["root", "admin"], ["张三", "officer"]]
    changed = yuqing("users", "passwd", "张三", cwd=folder, stdin="another long one\n")
    assert changed.returncode == 0 and "sessions are ended" in changed.stdout
    accounts = Accounts.for_data_dir(folder / "var")
    try:
        assert accounts.verify("张三", PASSWORD) is None and accounts.verify("张三", "another long one")
        assert [(e["who"].startswith("cli:"), e["action"]) for e in reversed(accounts.trail())] == [
            (True, "account-add"), (True, "account-add"), (True, "account-passwd")]
    finally:
        accounts.close()
    assert yuqing("users", "remove", "张三", cwd=folder).returncode == 0
    gone = yuqing("users", "remove", "root", cwd=folder)
    assert "no accounts remain" in gone.stdout
    assert "no accounts" in yuqing("users", "list", cwd=folder).stdout


@pytest.mark.parametrize("args, stdin, said", [
    (("users", "add", "bob", "--role", "viewer"), "short\n", "too short: at least 10 characters"),
    (("users", "add", "a b", "--role", "viewer"), PASSWORD + "\n", "is not an account name"),
    (("users", "passwd", "nobody"), PASSWORD + "\n", "no account 'nobody'"),
    (("users", "remove", "nobody"), "", "no account 'nobody'"),
])
def test_a_change_that_cannot_be_made_says_why_in_one_line(folder: Path, args: tuple[str, ...], stdin: str,
                                                            said: str) -> None:
    done = yuqing(*args, cwd=folder, stdin=stdin)
    assert done.returncode == 2 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_adding_an_account_twice_is_refused_and_keeps_the_first_password(folder: Path) -> None:
    assert yuqing("users", "add", "root", "--role", "admin", cwd=folder, stdin=PASSWORD + "\n").returncode == 0
    again = yuqing("users", "add", "root", "--role", "viewer", cwd=folder, stdin="some other password\n")
    assert again.returncode == 2 and "exists" in again.stderr
    accounts = Accounts.for_data_dir(folder / "var")
    try:
        assert accounts.verify("root", PASSWORD) == accounts.get("root") and accounts.get("root").role == "admin"
    finally:
        accounts.close()


def test_run_on_every_address_without_accounts_is_refused_then_runs_with_one(folder: Path) -> None:
    refused = yuqing("run", cwd=folder)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "yuqing: config error: the dashboard would listen on 0.0.0.0, open to other machines, and no accounts "
        "exist: add one with `yuqing users add NAME --role admin`, or set [dashboard] host = \"127.0.0.1\""]
    assert yuqing("users", "add", "root", "--role", "admin", cwd=folder, stdin=PASSWORD + "\n").returncode == 0
    port = int((folder / "yuqing.toml").read_text().split("port = ")[1])
    process = subprocess.Popen([sys.executable, "-m", "yuqing.cli", "run"], cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the service did not start"
                time.sleep(0.3)
        with pytest.raises(urllib.error.HTTPError) as refused_read:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/summary", timeout=5)
        assert refused_read.value.code == 401 and "登录" in json.loads(refused_read.value.read())["error"]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in output, output
