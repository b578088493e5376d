"""Configuration mistakes from the file or the environment: exit 2, one line naming where to fix it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from settings import ConfigError, Dashboard, load

SOURCELESS = "[[schemes]]\nname = 'co'\nkeywords = ['北辰燃料乙醇']\n"


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
         config: str = SOURCELESS) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "yuqing.toml"
    path.write_text(config, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("YUQING_")}
    return subprocess.run([sys.executable, "-m", "yuqing.cli", *args, "--config", str(path)], capture_output=True,
                          text=True, cwd=tmp_path, env={**clean, **(env or {})}, timeout=120)


def _one_line_exit_2(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


@pytest.mark.parametrize(("name", "value"), [
    ("YUQING_SMTP", "{bad"), ("YUQING_ALERTS__RECIPIENTS", "[bad"), ("YUQING_SCHEMES", "nope"),
    ("yuqing_dashboard", '{"port": 80'),
])
def test_malformed_json_in_a_variable_names_the_variable(tmp_path: Path, name: str, value: str) -> None:
    message = _one_line_exit_2(_cli(tmp_path, "check-config", env={name: value}))
    assert f"config error: {name.upper()}: not valid JSON" in message


@pytest.mark.parametrize(("env", "expected"), [
    ({"YUQING_SMTP__PORT": "many"}, "YUQING_SMTP__PORT: Input should be a valid integer"),
    ({"YUQING_SMTP__PORT": "99999"}, "YUQING_SMTP__PORT: Input should be less than or equal to 65535"),
    ({"YUQING_SMTP": '{"port": "many"}'}, "YUQING_SMTP (port): Input should be a valid integer"),
    ({"YUQING_SMTP__NOPE": "1"}, "YUQING_SMTP__NOPE: unknown key"),
    ({"YUQING_ALERTS__EVALUATE_EVERY": "often"}, "YUQING_ALERTS__EVALUATE_EVERY: 'often' is not a duration"),
])
def test_a_bad_value_from_the_environment_names_the_variable_not_the_file(
        tmp_path: Path, env: dict[str, str], expected: str) -> None:
    message = _one_line_exit_2(_cli(tmp_path, "check-config", env=env))
    assert expected in message and "yuqing.toml" not in message


def test_a_bad_value_in_the_file_still_names_the_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text("[smtp]\nport = 'many'\n", encoding="utf-8")
    monkeypatch.setenv("YUQING_SMTP", '{"host": "mail.example.com"}')  # sets the section, not this key
    monkeypatch.setenv("YUQING_SMTP__PASSWORD", "s3cret")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == f"{path}: smtp.port: Input should be a valid integer, unable to parse string as an integer"
    monkeypatch.setenv("YUQING_SMTP__PORT", "2525")  # the environment wins, mistake and all
    assert load(path).smtp.port == 2525


def test_several_problems_are_listed_one_a_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text("[smtp]\nport = 'many'\n", encoding="utf-8")
    monkeypatch.setenv("YUQING_DASHBOARD__PORT", "0")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).splitlines() == [
        "2 problems in the configuration:",
        f"  {path}: smtp.port: Input should be a valid integer, unable to parse string as an integer",
        "  YUQING_DASHBOARD__PORT: Input should be greater than or equal to 1",
    ]


@pytest.mark.parametrize("where", ["file", "environment"])
@pytest.mark.parametrize("below", [False, True], ids=["the-file", "a-folder-under-it"])
def test_store_path_naming_a_file_is_a_config_error(tmp_path: Path, where: str, below: bool) -> None:
    existing = tmp_path / "posts.txt"
    existing.write_text("not a folder", encoding="utf-8")
    target = existing / "store" if below else existing
    config = SOURCELESS + (f"[store]\npath = {str(target)!r}\n" if where == "file" else "")
    env = {"YUQING_STORE__PATH": str(target)} if where == "environment" else {}
    for command in ("check-config", "reindex"):
        message = _one_line_exit_2(_cli(tmp_path, command, env=env, config=config))
        assert f"{existing} is a file, not a folder" in message
        assert ("YUQING_STORE__PATH:" if where == "environment" else "yuqing.toml: store.path:") in message
    assert existing.read_text(encoding="utf-8") == "not a folder"


def test_password_in_the_file_is_accepted_with_a_warning(tmp_path: Path) -> None:
    done = _cli(tmp_path, "check-config", config=SOURCELESS + "[smtp]\nuser = 'a@example.com'\npassword = 'hunter2'\n")
    assert done.returncode == 0 and done.stdout.startswith("ok:")
    assert "warning" in done.stderr and "[smtp] password" in done.stderr and "YUQING_SMTP__PASSWORD" in done.stderr
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize("config", [SOURCELESS, SOURCELESS + "[smtp]\npassword = ''\n"])
def test_password_from_the_environment_gets_no_warning(tmp_path: Path, config: str) -> None:
    done = _cli(tmp_path, "check-config", env={"YUQING_SMTP__PASSWORD": "hunter2"}, config=config)
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize(("host", "hosts"), [
    ("127.0.0.1", ["127.0.0.1", "localhost", "::1"]),
    ("localhost", ["localhost", "127.0.0.1", "::1"]),
    ("::1", ["::1", "localhost", "127.0.0.1"]),
    ("127.0.0.2", ["127.0.0.2", "localhost", "127.0.0.1", "::1"]),
    ("10.0.0.5", ["10.0.0.5"]),
    ("yuqing.corp.example", ["yuqing.corp.example"]),
])
def test_default_allowed_hosts(host: str, hosts: list[str]) -> None:
    assert Dashboard(host=host).hosts == hosts
    assert Dashboard(host=host, allowed_hosts=["yuqing.example.com"]).hosts == ["yuqing.example.com"]


@pytest.mark.parametrize(("host", "url"), [("127.0.0.1", "http://127.0.0.1:8000/"), ("::1", "http://[::1]:8000/"),
                                           ("yuqing.corp.example", "http://yuqing.corp.example:8000/")])
def test_the_dashboard_address_people_open(host: str, url: str) -> None:
    assert Dashboard(host=host).url == url


@pytest.mark.parametrize(("text", "expected"), [
    ("host = '0.0.0.0'", "dashboard: host '0.0.0.0' listens on every address: list in `allowed_hosts`"),
    ("host = '::'", "dashboard: host '::' listens on every address"),
    ("allowed_hosts = ['http://yuqing.example.com']", "dashboard.allowed_hosts: 'http://yuqing.example.com' is not"),
    ("allowed_hosts = ['yuqing.example.com:8000']", "is not a host name"),
    ("allowed_hosts = ['yuqing.*.com']", "is not a host name"),
])
def test_bad_dashboard_hosts(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text(f"[dashboard]\n{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load(path)


def test_every_address_with_named_hosts_is_fine() -> None:
    assert Dashboard(host="0.0.0.0", allowed_hosts=["*.corp.example", "10.0.0.5", "*"]).hosts[0] == "*.corp.example"


@pytest.mark.parametrize(("value", "expected"), [("70", "write 0.7, not 70"), ("1.5", "write 0.015, not 1.5")])
def test_a_risk_written_as_a_percentage_is_refused_with_its_scale(tmp_path: Path, value: str, expected: str) -> None:
    rule = f"[[alerts.rules]]\nname = 'spreading'\ntype = 'event'\nscheme = 'co'\nmin_risk = {value}\n"
    message = _one_line_exit_2(_cli(tmp_path, "check-config", config=SOURCELESS + rule))
    assert "alerts.rules[0].min_risk: risk is on the 0..1 scale" in message and expected in message
