"""Over real HTTP: the dashboard answers only its own names, and every answer carries the security headers."""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Iterator

import pytest

from dashboards.web.app import DashboardServer, create_app
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, alerts, parse, source_health


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def port(store: EmbeddedStore) -> Iterator[int]:
    port = _free_port()
    server = DashboardServer(create_app(store, alerts, parse, allowed_hosts=HOSTS, source_health=source_health),
                             "127.0.0.1", port).start()
    yield port
    server.stop()


def _get(port: int, path: str, host: str | None) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode("utf-8")
    finally:
        connection.close()


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "127.0.0.1"])
def test_own_names_are_answered(port: int, host: str) -> None:
    status, _, body = _get(port, "/api/search?q=", host.format(port=port))
    assert status == 200 and "北辰燃料乙醇" in body


@pytest.mark.parametrize("host", ["rebind.example:{port}", "rebind.example", "127.0.0.1.rebind.example:{port}",
                                  "10.0.0.5:{port}", "localhost.:{port}", "", "127.0.0.1:{port}@rebind.example"])
def test_other_names_get_400_and_no_posts(port: int, host: str) -> None:
    for path in ("/api/search?q=", "/api/summary", "/", "/healthz", "/alerts", "/api/alerts"):
        status, headers, body = _get(port, path, host.format(port=port))
        assert status == 400 and "北辰" not in body
        assert headers["x-frame-options"] == "DENY"


def test_a_request_without_host_is_refused(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET /api/search?q= HTTP/1.0\r\n\r\n")
        answer = raw.recv(65536).decode("utf-8", "replace")
    assert answer.startswith("HTTP/1.1 400") and "北辰" not in answer


@pytest.mark.parametrize("path", ["/", "/api/summary", "/api/search?q=x", "/api/sources", "/healthz",
                                  "/static/app.js", "/static/app.css", "/alerts", "/api/alerts", "/alerts/1",
                                  "/alerts/1/act?t=x", "/nowhere"])
def test_every_answer_carries_the_security_headers(port: int, path: str) -> None:
    status, headers, _ = _get(port, path, f"127.0.0.1:{port}")
    assert status == {"/nowhere": 404, "/alerts/1": 404, "/alerts/1/act?t=x": 403}.get(path, 200)
    policy = {d.split()[0]: d.split()[1:] for d in headers["content-security-policy"].split("; ")}
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/alerts", "/alerts/1/act?t=x"])
def test_the_page_has_no_inline_script_or_style(port: int, path: str) -> None:
    _, _, page = _get(port, path, f"127.0.0.1:{port}")
    assert "<script>" not in page and "<script " in page and "style=" not in page and "<style" not in page
    assert not re.search(r"\son[a-z]+\s*=", page)  # no onclick= and the like


def test_configured_names_replace_the_default(store: EmbeddedStore) -> None:
    import settings as config

    port = _free_port()
    hosts = config.Dashboard(host="127.0.0.1", allowed_hosts=["yuqing.example.com", "*.corp.example"]).hosts
    server = DashboardServer(create_app(store, alerts, parse, allowed_hosts=hosts), "127.0.0.1", port).start()
    try:
        assert _get(port, "/healthz", f"yuqing.example.com:{port}")[0] == 200
        assert _get(port, "/healthz", "desk.corp.example")[0] == 200
        assert _get(port, "/healthz", f"127.0.0.1:{port}")[0] == 400
    finally:
        server.stop()
