"""Clusters the Elasticsearch backend is tested against: osmem-server on 127.0.0.1, and a real cluster at
$YUQING_ES_URL when it is set.

osmem-server is an in-memory OpenSearch-compatible server shipped as a wheel (the `test` extra installs it).
It sends `X-Elastic-Product: Elasticsearch`, so the client's product check passes, but it answers 406 to the
media types the Elasticsearch 8 client sends (`application/vnd.elasticsearch+json; compatible-with=8`), which
Elasticsearch 8 and 9 take. So its clients use PlainJsonNode, which sends plain `application/json` (and
`application/x-ndjson`) instead; a real cluster gets the client's own transport, unchanged.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from elastic_transport import HttpHeaders, Urllib3HttpNode
from elasticsearch import Elasticsearch

import settings
from store.elastic import client as es_client
from tests.ports import free_port

_COMPATIBLE = re.compile(r"application/vnd\.elasticsearch\+([a-z-]+);\s*compatible-with=\d+")


class PlainJsonNode(Urllib3HttpNode):
    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: HttpHeaders | None = None, **options: Any) -> Any:
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = _COMPATIBLE.sub(r"application/\1", headers[name])
        return super().perform_request(method, target, body=body, headers=headers, **options)


@dataclass
class Cluster:
    url: str
    node_class: type[Urllib3HttpNode]

    def section(self, prefix: str | None = None, **options: Any) -> settings.Store:
        prefix = prefix or f"t{uuid.uuid4().hex[:10]}-"
        return settings.Store(backend="elasticsearch", url=[self.url], index_prefix=prefix, **options)

    def client(self, **options: Any) -> Elasticsearch:
        return Elasticsearch(self.url, node_class=self.node_class, **options)

    def connect(self, section: settings.Store) -> Elasticsearch:
        """What the backend's own connect() makes of `section`, over this cluster's transport."""
        saved = es_client.NODE_CLASS
        es_client.NODE_CLASS = self.node_class
        try:
            return es_client.connect(section)
        finally:
            es_client.NODE_CLASS = saved

    def drop(self, prefix: str) -> None:
        """Everything made under `prefix`: indices, templates, the lifecycle policy."""
        with self.client() as client:
            ignore = client.options(ignore_status=404)
            ignore.indices.delete(index=f"{prefix}*", expand_wildcards="all")
            for kind in ("posts", "alerts"):
                ignore.indices.delete_index_template(name=f"{prefix}{kind}")
            if client.info()["version"].get("distribution") != "opensearch":
                ignore.ilm.delete_lifecycle(name=f"{prefix}posts")


def osmem_binary_or_skip() -> Callable[..., Any]:
    try:
        from osmem_server import OsmemServer
    except ImportError:
        pytest.skip("osmem-server is not installed: `pip install -e '.[test]'` installs it")
    return OsmemServer.start


def real_cluster_or_skip() -> Cluster:
    url = os.environ.get("YUQING_ES_URL")
    if not url:
        pytest.skip("YUQING_ES_URL is not set: no real Elasticsearch cluster to test against")
    return Cluster(url, Urllib3HttpNode)


class BusyProxy:
    """A real HTTP proxy before a cluster that answers some bulk items 429 (too busy), as a loaded Elasticsearch
    does: `busy[id]` is how many more times the post with that id is turned away; the other items go through."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.busy: dict[str, int] = {}
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0].endswith("/_bulk"):
                    status, answer = proxy._bulk(self.path, body, self.headers)
                else:
                    status, answer = proxy._forward(self.command, self.path, body, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _forward(self, method: str, path: str, body: bytes, headers: Any) -> tuple[int, bytes]:
        request = urllib.request.Request(self.upstream + path, data=body or None, method=method, headers={
            name: headers[name] for name in ("Content-Type", "Accept") if headers.get(name)})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _bulk(self, path: str, body: bytes, headers: Any) -> tuple[int, bytes]:
        lines = body.decode("utf-8").splitlines()
        passed, answers = [], []
        for action, source in zip(lines[::2], lines[1::2]):
            meta = json.loads(action)["index"]
            if self.busy.get(meta["_id"], 0) > 0:
                self.busy[meta["_id"]] -= 1
                self.refused += 1
                answers.append({"index": {"_index": meta["_index"], "_id": meta["_id"], "status": 429, "error": {
                    "type": "es_rejected_execution_exception", "reason": "rejected execution of bulk item"}}})
            else:
                passed += [action, source]
                answers.append(None)
        items: list[Any] = []
        if passed:
            status, answer = self._forward("POST", path, ("\n".join(passed) + "\n").encode("utf-8"), headers)
            if status != 200:
                return status, answer
            items = json.loads(answer)["items"]
        merged = [a if a is not None else items.pop(0) for a in answers]
        return 200, json.dumps({"took": 1, "errors": any("error" in next(iter(m.values())) for m in merged),
                                "items": merged}).encode("utf-8")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
