"""A stand-in for Kibana's saved objects import API, served on 127.0.0.1, since no Kibana can run here.

It keeps the contract Kibana documents for `POST [/s/{space_id}]/api/saved_objects/_import`
(https://www.elastic.co/guide/en/kibana/current/saved-objects-api-import.html and the API reference
https://www.elastic.co/docs/api/doc/kibana/v8/operation/operation-importsavedobjectsdefault):

- the request is multipart/form-data with the NDJSON in the field `file`, whose name must end in `.ndjson`
  (Kibana: 400 "Invalid file extension");
- the header `kbn-xsrf` is required (Kibana's CSRF protection: 400 "Request must contain a kbn-xsrf header.");
- with security on, a request without valid credentials (`Authorization: ApiKey …` or `Basic …`) gets 401;
- `/s/{space_id}` addresses a space, no prefix the default space; a space that does not exist gets 404;
- `overwrite=true` replaces objects of the same type and id; without it they are `conflict` errors;
- an object of a type Kibana does not know is an `unsupported_type` error; one that references an object
  neither in the file nor already in the space is a `missing_references` error naming the references;
  an attribute that Kibana keeps as JSON text but that arrives as anything else fails its type's validation;
- objects without errors are imported even when others fail; the answer is 200 with
  `{"success": bool, "successCount": n, "successResults": [{type, id, meta: {title}, overwrite?}],
  "errors": [{type, id, title, meta, error: {type, references?, message?}}], "warnings": []}`;
  refusals are Kibana's `{"statusCode", "error", "message"}`.

It stands for Kibana's HTTP side only: it neither migrates nor draws the objects, so it proves that the
installer speaks the API (path, space, headers, credentials, multipart file, overwrite) and reads every answer
right. What it keeps is inspectable: `objects[space][(type, id)]`, and every request in `requests`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

SUPPORTED_TYPES = frozenset({"config", "dashboard", "index-pattern", "lens", "map", "search", "tag", "visualization"})
# Attributes Kibana's saved object schemas hold as strings of JSON.
JSON_TEXT = {
    "index-pattern": ("fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters"),
    "search": ("kibanaSavedObjectMeta.searchSourceJSON",),
    "dashboard": ("panelsJSON", "optionsJSON", "kibanaSavedObjectMeta.searchSourceJSON",
                  "controlGroupInput.panelsJSON", "controlGroupInput.ignoreParentSettingsJSON"),
}
_ROUTE = re.compile(r"(?:/s/(?P<space>[^/]+))?/api/saved_objects/_import")

Reply = tuple[int, dict[str, Any]]


def _refusal(status: int, error: str, message: str) -> Reply:
    return status, {"statusCode": status, "error": error, "message": message}


class FakeKibana:
    def __init__(self, spaces: tuple[str, ...] = ("default",), api_key: str | None = None,
                 user: tuple[str, str] | None = None, types: frozenset[str] = SUPPORTED_TYPES) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {space: {} for space in spaces}
        self.requests: list[dict[str, Any]] = []
        self.types = types
        self._accepted = set()
        if api_key:
            self._accepted.add(f"ApiKey {api_key}")
        if user:
            self._accepted.add("Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode())
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeKibana:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        kibana = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._reply(*kibana.answer("POST", self.path, self.headers, body))

            def do_GET(self) -> None:
                self._reply(*kibana.answer("GET", self.path, self.headers, b""))

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet under pytest
                pass

        return Handler

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        record: dict[str, Any] = {"method": method, "path": parts.path, "query": query, "headers": dict(headers)}
        self.requests.append(record)
        given = headers.get("Authorization")
        if self._accepted and given not in self._accepted:
            said = "unable to authenticate user" if given else "missing authentication credentials for REST request"
            return _refusal(401, "Unauthorized", f"[security_exception]: {said}")
        route = _ROUTE.fullmatch(parts.path)
        if method != "POST" or not route or (route["space"] or "default") not in self.objects:
            return _refusal(404, "Not Found", "Not Found")
        if "kbn-xsrf" not in {name.lower() for name in headers.keys()}:
            return _refusal(400, "Bad Request", "Request must contain a kbn-xsrf header.")
        if query.get("overwrite") == "true" and query.get("createNewCopies") == "true":
            return _refusal(400, "Bad Request", "[request query]: cannot use [overwrite] with [createNewCopies]")
        upload = _file_field(headers.get("Content-Type", ""), body)
        if upload is None:
            return _refusal(400, "Bad Request", "[request body.file]: expected value of type [Stream] but got "
                                                "[undefined]")
        filename, data = upload
        record["filename"] = filename
        if not filename.endswith(".ndjson"):
            return _refusal(400, "Bad Request", f"Invalid file extension .{filename.rpartition('.')[2]}")
        try:
            lines = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        except ValueError as exc:
            return _refusal(400, "Bad Request", f"Unexpected token in JSON: {exc}")
        record["objects"] = lines
        return 200, self._import(route["space"] or "default", lines, query.get("overwrite") == "true")

    def _import(self, space: str, lines: list[Any], overwrite: bool) -> dict[str, Any]:
        stored = self.objects[space]
        incoming = [obj for obj in lines if isinstance(obj, dict) and "exportedCount" not in obj]
        errors, importable = [], []
        for obj in incoming:
            if obj.get("type") not in self.types:
                errors.append(_error(obj, {"type": "unsupported_type"}))
            else:
                importable.append(obj)
        known = set(stored) | {(obj["type"], obj["id"]) for obj in importable}
        results = []
        for obj in importable:
            key = (obj["type"], obj["id"])
            missing = [{"type": ref["type"], "id": ref["id"]} for ref in obj.get("references", [])
                       if (ref["type"], ref["id"]) not in known]
            not_text = [path for path in JSON_TEXT.get(obj["type"], ()) if not _is_text(obj["attributes"], path)]
            if missing:
                errors.append(_error(obj, {"type": "missing_references", "references": missing}))
            elif not_text:
                errors.append(_error(obj, {"type": "unknown", "statusCode": 400, "message":
                                           f"[attributes.{not_text[0]}]: expected value of type [string]"}))
            elif key in stored and not overwrite:
                errors.append(_error(obj, {"type": "conflict"}))
            else:
                result = {"type": obj["type"], "id": obj["id"], "meta": {"title": _title(obj)}}
                if key in stored:
                    result["overwrite"] = True
                stored[key] = obj
                results.append(result)
        answer: dict[str, Any] = {"success": not errors, "successCount": len(results), "successResults": results,
                                  "warnings": []}
        if errors:
            answer["errors"] = errors
        return answer


def _file_field(content_type: str, body: bytes) -> tuple[str, bytes] | None:
    if not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_filename() or "", part.get_payload(decode=True)
    return None


def _is_text(attributes: dict[str, Any], path: str) -> bool:
    node: Any = attributes
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return True  # absent: nothing to validate
        node = node[key]
    return isinstance(node, str)


def _title(obj: dict[str, Any]) -> str:
    attributes = obj.get("attributes") or {}
    return str(attributes.get("title") or attributes.get("name") or "")


def _error(obj: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    return {"type": obj.get("type"), "id": obj.get("id"), "title": _title(obj), "meta": {"title": _title(obj)},
            "error": error}
