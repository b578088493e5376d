"""Robot endpoints on 127.0.0.1 that check what arrives as DingTalk, WeCom, Feishu or a webhook receiver would
(the signature recomputed, the timestamp fresh, the payload's shape and size) and answer as they do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Reply = tuple[int, dict[str, Any] | bytes] | None  # None: hang, never answer


class Endpoint:
    """Answers each request by `script` (its next word: "ok", "rate", "500", "hang"; "ok" once it is empty),
    refusing a well-formed message when `refuse(body)` says so."""

    credential = ""  # the part of its address that names the robot and lets one post to it

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.script: list[str] = []
        self.refuse: Callable[[dict[str, Any]], bool] = lambda body: False
        self.requests = 0
        self.received: list[dict[str, Any]] = []  # accepted messages' bodies
        self.raw: list[bytes] = []                # every request's body as sent
        self.headers: list[Any] = []              # and its headers
        self.released = threading.Event()

    def url(self, base: str) -> str:
        raise NotImplementedError

    def answer(self, path: str, query: dict[str, str], headers: Any, raw: bytes) -> Reply:
        self.requests += 1
        self.raw.append(raw)
        self.headers.append(headers)
        mode = self.script.pop(0) if self.script else "ok"
        if mode == "hang":
            self.released.wait(30)
            return None
        if mode == "500":
            return 500, b"<html><body>500 Internal Server Error</body></html>"
        problem = self.check(path, query, headers, raw)
        if problem:
            return problem
        body = json.loads(raw)
        if mode == "rate":
            return self.rate_limited()
        if self.refuse(body):
            return self.refused()
        self.received.append(body)
        return self.ok()

    def check(self, path: str, query: dict[str, str], headers: Any, raw: bytes) -> Reply:
        raise NotImplementedError

    def ok(self) -> Reply:
        raise NotImplementedError

    def rate_limited(self) -> Reply:
        raise NotImplementedError

    def refused(self) -> Reply:
        raise NotImplementedError


def _hmac64(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()).decode()


class DingTalk(Endpoint):
    credential = "dt-access-token-0123"  # the access_token
    limit = 20000

    def url(self, base: str) -> str:
        return f"{base}/robot/send?access_token={self.credential}"

    def check(self, path: str, query: dict[str, str], headers: Any, raw: bytes) -> Reply:
        if path != "/robot/send" or query.get("access_token") != self.credential:
            return 200, {"errcode": 400101, "errmsg": "access_token不存在"}
        if self.secret:
            stamp = query.get("timestamp", "")
            if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600 * 1000:
                return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
            if query.get("sign") != _hmac64(self.secret, f"{stamp}\n{self.secret}"):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if len(raw) > self.limit:
            return 200, {"errcode": 460101, "errmsg": "body 大小不合法, 请保持大小在 20000bytes 以内"}
        body = json.loads(raw)
        markdown = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 json"}
        return None

    def ok(self) -> Reply:
        return 200, {"errcode": 0, "errmsg": "ok"}

    def rate_limited(self) -> Reply:
        return 200, {"errcode": 410100, "errmsg": "send too fast, exceed 20 times per minute"}

    def refused(self) -> Reply:
        return 200, {"errcode": 430102, "errmsg": "含有不合适的文本"}


class WeCom(Endpoint):
    credential = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"  # the key
    limit = 4096

    def url(self, base: str) -> str:
        return f"{base}/cgi-bin/webhook/send?key={self.credential}"

    def check(self, path: str, query: dict[str, str], headers: Any, raw: bytes) -> Reply:
        if path != "/cgi-bin/webhook/send" or query.get("key") != self.credential:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1653710655]"}
        body = json.loads(raw)
        content = (body.get("markdown") or {}).get("content")
        if body.get("msgtype") != "markdown" or not content:
            return 200, {"errcode": 44004, "errmsg": "empty content"}
        if len(content.encode("utf-8")) > self.limit:
            return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
        return None

    def ok(self) -> Reply:
        return 200, {"errcode": 0, "errmsg": "ok"}

    def rate_limited(self) -> Reply:
        return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}

    def refused(self) -> Reply:
        return 200, {"errcode": 40058, "errmsg": "invalid Request Parameter"}


class Feishu(Endpoint):
    credential = "0b5f6e2c-2a4b-4d7e-9c1a-5f3e2d1c0b9a"  # the hook id
    limit = 20000

    def url(self, base: str) -> str:
        return f"{base}/open-apis/bot/v2/hook/{self.credential}"

    def check(self, path: str, query: dict[str, str], headers: Any, raw: bytes) -> Reply:
        if path != f"/open-apis/bot/v2/hook/{self.credential}":
            return 200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}
        if len(raw) > self.limit:
            return 200, {"code": 9499, "msg": "Bad Request", "data": {}}
        body = json.loads(raw)
        if self.secret:
            stamp = str(body.get("timestamp", ""))
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 3600
            if not fresh or body.get("sign") != _hmac64(f"{stamp}\n{self.secret}", ""):
                return 200, {"code": 19021, "data": {},
                             "msg": "sign match fail or timestamp is not within one hour from current time"}
        card = body.get("card") or {}
        if body.get("msg_type") != "interactive" or not card.get("elements") or "title" not in card.get("header", {}):
            return 200, {"code": 9499, "msg": "Bad Request", "data": {}}
        return None

    def ok(self) -> Reply:
        return 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}

    def rate_limited(self) -> Reply:
        return 200, {"code": 11232, "msg": "frequency limited", "data": {}}

    def refused(self) -> Reply:
        return 200, {"code": 19024, "msg": "Key Words Not Found"}


class Receiver(Endpoint):
    """A generic webhook receiver, as its documentation asks one to be written."""

    credential = "yuqing"  # its path

    def url(self, base: str) -> str:
        return f"{base}/hooks/{self.credential}"

    def check(self, path: str, query: dict[str, str], headers: Any, raw: bytes) -> Reply:
        if path != f"/hooks/{self.credential}":
            return 404, b"not found"
        if self.secret:
            stamp = headers.get("X-Yuqing-Timestamp", "")
            expected = hmac.new(self.secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 300
            if not fresh or not hmac.compare_digest(headers.get("X-Yuqing-Signature", ""), f"sha256={expected}"):
                return 401, {"error": "bad signature"}
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 415, {"error": "JSON only"}
        return None

    def ok(self) -> Reply:
        return 200, {"ok": True}

    def rate_limited(self) -> Reply:
        return 429, {"error": "slow down"}

    def refused(self) -> Reply:
        return 422, {"error": "unprocessable"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urlsplit(self.path)
        reply = self.server.endpoint.answer(parts.path, dict(parse_qsl(parts.query)), self.headers, raw)
        if reply is None:
            self.close_connection = True
            return
        status, payload = reply
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: Endpoint


@contextmanager
def serving(endpoint: Endpoint) -> Iterator[str]:
    """The endpoint's URL while a server on 127.0.0.1 answers for it."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.endpoint = endpoint
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield endpoint.url(f"http://127.0.0.1:{server.server_port}")
    finally:
        endpoint.released.set()
        server.shutdown()
        server.server_close()
