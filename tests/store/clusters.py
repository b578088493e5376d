"""Clusters the Elasticsearch backend is tested against: osmem-server on 127.0.0.1, and a real cluster at
$YUQING_ES_URL when it is set.

osmem-server is an in-memory OpenSearch-compatible server shipped as a wheel (the `test` extra installs it).
It sends `X-Elastic-Product: Elasticsearch`, so the client's product check passes, but it answers 406 to the
media types the Elasticsearch 8 client sends (`application/vnd.elasticsearch+json; compatible-with=8`), which
Elasticsearch 8 and 9 take. So its clients use PlainJsonNode, which sends plain `application/json` (and
`application/x-ndjson`) instead; a real cluster gets the client's own transport, unchanged.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from elastic_transport import HttpHeaders, Urllib3HttpNode
from elasticsearch import Elasticsearch

import settings
from store.elastic import client as es_client

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
