"""`yuqing kibana install` against a stand-in for Kibana's import API (fake_kibana.py) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tests.dashboards.fake_kibana import SUPPORTED_TYPES, FakeKibana
from tests.dashboards.test_kibana_objects import STABLE_IDS

LENSES = sorted(id_ for kind, id_ in STABLE_IDS if kind == "lens")


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
         config: str = "") -> subprocess.CompletedProcess[str]:
    path = tmp_path / "yuqing.toml"
    path.write_text(config, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("YUQING_")}
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "kibana", "install", *args, "--config", str(path)],
                          capture_output=True, text=True, cwd=tmp_path, env={**clean, **(env or {})}, timeout=60)


def _one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    with FakeKibana(spaces=("default", "ops")) as fake:
        yield fake


def test_install_imports_every_object_into_the_default_space(tmp_path: Path, kibana: FakeKibana) -> None:
    done = _cli(tmp_path, "--url", kibana.url)
    assert done.returncode == 0, done.stderr
    assert f"installed 14 saved objects into Kibana at {kibana.url} (space default)" in done.stdout
    assert f"{kibana.url}/app/dashboards#/view/yuqing-overview" in done.stdout
    (request,) = kibana.requests
    assert request["path"] == "/api/saved_objects/_import" and request["query"] == {"overwrite": "true"}
    assert request["headers"]["kbn-xsrf"] == "true" and request["filename"].endswith(".ndjson")
    assert "Authorization" not in request["headers"]
    assert set(kibana.objects["default"]) == STABLE_IDS and kibana.objects["ops"] == {}


def test_a_second_install_replaces_the_objects_and_harms_nothing(tmp_path: Path, kibana: FakeKibana) -> None:
    first = _cli(tmp_path, "--url", kibana.url)
    kibana.objects["default"][("lens", "yuqing-regions")]["attributes"]["title"] = "edited by hand in Kibana"
    second = _cli(tmp_path, "--url", kibana.url)
    assert first.returncode == second.returncode == 0, second.stderr
    assert "installed 14 saved objects" in second.stdout
    assert set(kibana.objects["default"]) == STABLE_IDS
    assert kibana.objects["default"][("lens", "yuqing-regions")]["attributes"]["title"] == "地域分布"


def test_the_space_comes_from_the_option_or_the_settings(tmp_path: Path, kibana: FakeKibana) -> None:
    closed = _closed_port_url()
    by_option = _cli(tmp_path, "--url", kibana.url, "--space", "ops", config=f"[kibana]\nurl = '{closed}'\n")
    assert by_option.returncode == 0 and "(space ops)" in by_option.stdout, by_option.stderr
    assert f"{kibana.url}/s/ops/app/dashboards#/view/yuqing-overview" in by_option.stdout
    by_file = _cli(tmp_path, config=f"[kibana]\nurl = '{kibana.url}/'\nspace = 'ops'\n")
    assert by_file.returncode == 0, by_file.stderr
    assert [r["path"] for r in kibana.requests] == ["/s/ops/api/saved_objects/_import"] * 2
    assert set(kibana.objects["ops"]) == STABLE_IDS and kibana.objects["default"] == {}


def test_an_unknown_space_is_one_line_naming_it(tmp_path: Path, kibana: FakeKibana) -> None:
    message = _one_line(_cli(tmp_path, "--url", kibana.url, "--space", "press"), 1)
    assert message.startswith(f"yuqing: kibana: no space 'press' in Kibana at {kibana.url} (HTTP 404")
    assert "--space" in message


def test_a_wrong_address_is_one_line(tmp_path: Path, kibana: FakeKibana) -> None:
    message = _one_line(_cli(tmp_path, "--url", f"{kibana.url}/kibana"), 1)
    assert f"no import API at {kibana.url}/kibana (HTTP 404" in message and "base path" in message


@pytest.mark.parametrize(("env", "args", "header"), [
    ({"YUQING_KIBANA__API_KEY": "a2V5OnNlY3JldA=="}, (), "ApiKey a2V5OnNlY3JldA=="),
    ({}, ("--api-key", "a2V5OnNlY3JldA=="), "ApiKey a2V5OnNlY3JldA=="),
    ({"YUQING_KIBANA__USERNAME": "yuqing", "YUQING_KIBANA__PASSWORD": "s3cret"}, (), "Basic eXVxaW5nOnMzY3JldA=="),
])
def test_credentials_come_from_the_environment_or_the_option(
        tmp_path: Path, env: dict[str, str], args: tuple[str, ...], header: str) -> None:
    with FakeKibana(api_key="a2V5OnNlY3JldA==", user=("yuqing", "s3cret")) as secured:
        done = _cli(tmp_path, "--url", secured.url, *args, env=env)
        assert done.returncode == 0, done.stderr
        assert secured.requests[-1]["headers"]["Authorization"] == header
        assert "s3cret" not in done.stdout + done.stderr and "a2V5" not in done.stdout + done.stderr


@pytest.mark.parametrize(("env", "said"), [
    ({}, "wants credentials (HTTP 401: [security_exception]: missing authentication credentials"),
    ({"YUQING_KIBANA__API_KEY": "d3Jvbmc="}, "refused the credentials (HTTP 401: [security_exception]: unable"),
])
def test_missing_or_wrong_credentials_are_one_line(tmp_path: Path, env: dict[str, str], said: str) -> None:
    with FakeKibana(api_key="a2V5OnNlY3JldA==") as secured:
        message = _one_line(_cli(tmp_path, "--url", secured.url, env=env), 1)
        assert said in message and "YUQING_KIBANA__API_KEY" in message
        assert secured.objects["default"] == {}


def test_objects_kibana_did_not_import_are_named_with_type_id_title_and_error(tmp_path: Path) -> None:
    with FakeKibana(types=SUPPORTED_TYPES - {"lens"}) as lensless:
        done = _cli(tmp_path, "--url", lensless.url)
        imported = set(lensless.objects["default"])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "yuqing: kibana: Kibana did not import 11 objects:"
    assert "  lens yuqing-regions (地域分布): unsupported_type" in lines
    (dashboard,) = [line for line in lines if line.startswith("  dashboard yuqing-overview (舆情总览): ")]
    assert {f"lens/{id_}" for id_ in LENSES} == set(dashboard.partition("missing_references ")[2].split(", "))
    assert imported == {("index-pattern", "yuqing-posts"), ("index-pattern", "yuqing-alerts"),
                        ("search", "yuqing-negative-posts")}


def test_the_stand_in_holds_kibanas_contract_for_headers_and_files(kibana: FakeKibana) -> None:
    http = urllib3.PoolManager()
    url = f"{kibana.url}/api/saved_objects/_import?overwrite=true"
    line = b'{"type":"index-pattern","id":"x","attributes":{"title":"x-*"},"references":[]}\n'
    no_xsrf = http.request("POST", url, fields={"file": ("a.ndjson", line)})
    assert no_xsrf.status == 400 and json.loads(no_xsrf.data)["message"] == "Request must contain a kbn-xsrf header."
    wrong_name = http.request("POST", url, fields={"file": ("a.json", line)}, headers={"kbn-xsrf": "true"})
    assert wrong_name.status == 400 and "Invalid file extension" in json.loads(wrong_name.data)["message"]
    no_file = http.request("POST", url, fields={"upload": ("a.ndjson", line)}, headers={"kbn-xsrf": "true"})
    assert no_file.status == 400
    done = http.request("POST", url, fields={"file": ("a.ndjson", line)}, headers={"kbn-xsrf": "true"})
    assert json.loads(done.data) == {"success": True, "successCount": 1, "warnings": [],
                                     "successResults": [{"type": "index-pattern", "id": "x", "meta": {"title": "x-*"}}]}
    again = http.request("POST", url.removesuffix("?overwrite=true"), fields={"file": ("a.ndjson", line)},
                         headers={"kbn-xsrf": "true"})
    assert json.loads(again.data)["errors"][0]["error"] == {"type": "conflict"}
    as_object = line.replace(b'"title":"x-*"', b'"title":"x-*","fieldAttrs":{}')
    refused = http.request("POST", url, fields={"file": ("a.ndjson", as_object)}, headers={"kbn-xsrf": "true"})
    assert json.loads(refused.data)["errors"][0]["error"]["type"] == "unknown"


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_kibana_is_one_line(tmp_path: Path) -> None:
    url = _closed_port_url()
    message = _one_line(_cli(tmp_path, "--url", url), 1)
    assert message.startswith(f"yuqing: kibana: cannot reach Kibana at {url}: ") and "refused" in message


def test_a_kibana_that_never_answers_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        started = time.monotonic()
        done = _cli(tmp_path, "--url", f"http://127.0.0.1:{silent.getsockname()[1]}",
                    env={"YUQING_KIBANA__TIMEOUT": "1s"})
    assert "no answer within 1s" in _one_line(done, 1)
    assert time.monotonic() - started < 10


class _Canned(BaseHTTPRequestHandler):
    """Answers every POST alike: what a proxy, a login page or another server might say instead of Kibana."""

    answer: tuple[int, bytes] = (200, b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "body", "said"), [
    (502, b'{"statusCode":502,"error":"Bad Gateway","message":"upstream\\nclosed"}',
     "refused the import (HTTP 502: upstream closed)"),
    (200, b"<html>Sign in</html>", "did not answer like Kibana's import API"),
    (200, b'{"success": false, "successCount": 0}', "the import failed, without naming an object"),
])
def test_any_other_answer_is_one_line(tmp_path: Path, status: int, body: bytes, said: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Canned,), {"answer": (status, body)}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert said in _one_line(_cli(tmp_path, "--url", f"http://127.0.0.1:{server.server_address[1]}"), 1)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("args", "said"), [
    (("--space", "Press Office"), "--space: 'Press Office' is not a space id"),
    (("--url", "kibana.example.com:5601"), "--url: 'kibana.example.com:5601' is not Kibana's address"),
    (("--prefix", "YQ-"), "--prefix: 'YQ-' is not an index prefix"),
])
def test_a_bad_option_is_a_config_error(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    assert f"yuqing: config error: {said}" in _one_line(_cli(tmp_path, *args), 2)


def test_a_user_without_a_password_is_a_config_error(tmp_path: Path) -> None:
    message = _one_line(_cli(tmp_path, env={"YUQING_KIBANA__USERNAME": "yuqing"}), 2)
    assert "a Kibana user needs both `username` and `password`; `password` is missing" in message


def test_the_prefix_reaches_the_data_views(tmp_path: Path, kibana: FakeKibana) -> None:
    assert _cli(tmp_path, "--url", kibana.url, "--prefix", "prod-yq-").returncode == 0
    stored = kibana.objects["default"]
    assert stored[("index-pattern", "yuqing-posts")]["attributes"]["title"] == "prod-yq-posts-*"
    assert stored[("index-pattern", "yuqing-alerts")]["attributes"]["title"] == "prod-yq-alerts-*"


def test_the_prefix_is_the_stores_unless_given(tmp_path: Path) -> None:
    target = tmp_path / "yuqing.ndjson"
    done = _cli(tmp_path, "--out", str(target), config="[store]\nindex_prefix = 'prod-yq-'\n")
    assert done.returncode == 0, done.stderr
    assert {obj["attributes"]["title"] for obj in map(json.loads, target.read_text(encoding="utf-8").splitlines())
            if obj["type"] == "index-pattern"} == {"prod-yq-posts-*", "prod-yq-alerts-*"}


def test_out_writes_the_ndjson_and_contacts_nobody(tmp_path: Path) -> None:
    target = tmp_path / "yuqing.ndjson"
    done = _cli(tmp_path, "--out", str(target), "--prefix", "prod-", "--url", _closed_port_url())
    assert done.returncode == 0 and done.stdout.strip() == f"wrote 14 saved objects to {target}", done.stderr
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert {(obj["type"], obj["id"]) for obj in lines} == STABLE_IDS
    assert {obj["attributes"]["title"] for obj in lines if obj["type"] == "index-pattern"} == {
        "prod-posts-*", "prod-alerts-*"}


def test_check_config_warns_of_kibana_secrets_written_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "yuqing.toml"
    path.write_text("[kibana]\nusername = 'yuqing'\npassword = 's3cret'\napi_key = 'a2V5'\n", encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("YUQING_")}
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "check-config", "--config", str(path)],
                          capture_output=True, text=True, env=clean, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "[kibana] password is written in the file" in done.stderr and "YUQING_KIBANA__PASSWORD" in done.stderr
    assert "[kibana] api_key is written in the file" in done.stderr and "YUQING_KIBANA__API_KEY" in done.stderr
    assert "s3cret" not in done.stderr and "a2V5" not in done.stderr
