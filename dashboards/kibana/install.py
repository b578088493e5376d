"""Build the NDJSON of the saved objects and import it through Kibana's saved objects API.

The import (`POST [/s/SPACE]/api/saved_objects/_import?overwrite=true`, the NDJSON as the multipart field `file`)
replaces objects of the same type and id, so installing again brings Kibana back to the files and harms nothing.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError, TimeoutError

from settings import Kibana

OBJECTS = Path(__file__).with_name("objects")
DEFAULT_PREFIX = "yuqing-"
DASHBOARD_ID = "yuqing-overview"
# Attributes Kibana keeps as JSON text (dotted paths under `attributes`); the files hold them as JSON.
JSON_TEXT = {
    "index-pattern": ("fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters"),
    "search": ("kibanaSavedObjectMeta.searchSourceJSON",),
    "dashboard": ("controlGroupInput.ignoreParentSettingsJSON", "controlGroupInput.panelsJSON",
                  "kibanaSavedObjectMeta.searchSourceJSON", "optionsJSON", "panelsJSON"),
}
TYPES = ("index-pattern", "search", "lens", "dashboard")  # what is referenced comes first, as Kibana exports
# The head of an Elasticsearch index name: lower case, no wildcard or separator, not starting with - _ +.
_PREFIX = re.compile(r"[a-z0-9][a-z0-9._-]*")
_CONNECTION = re.compile(r"^\w+Connection\([^)]*\): ")  # urllib3 names its connection object first


class KibanaError(Exception):
    """Kibana could not be reached, refused the import, or did not import every object."""


def check_prefix(prefix: str) -> str:
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"{prefix!r} is not an index prefix: lower-case letters, digits, '.', '_' and '-', "
                         f"starting with a letter or digit, like the default {DEFAULT_PREFIX!r}")
    return prefix


def load_objects(folder: Path = OBJECTS) -> list[dict[str, Any]]:
    objects = [json.loads(path.read_text(encoding="utf-8")) for path in folder.glob("*.json")]
    return sorted(objects, key=lambda obj: (TYPES.index(obj["type"]), obj["id"]))


def for_kibana(obj: dict[str, Any], prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The object as Kibana imports it: JSON text where Kibana keeps text, a data view on the prefix's indices."""
    out = copy.deepcopy(obj)
    attributes = out["attributes"]
    for path in JSON_TEXT.get(out["type"], ()):
        *parents, leaf = path.split(".")
        node = attributes
        for key in parents:
            node = node[key]
        node[leaf] = json.dumps(node[leaf], ensure_ascii=False, separators=(",", ":"))
    if out["type"] == "index-pattern":
        attributes["title"] = prefix + attributes["title"].removeprefix(DEFAULT_PREFIX)
    return out


def ndjson(prefix: str = DEFAULT_PREFIX, folder: Path = OBJECTS) -> bytes:
    """Every object, one JSON document a line, as the import API takes them."""
    check_prefix(prefix)
    lines = (json.dumps(for_kibana(obj, prefix), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
             for obj in load_objects(folder))
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def space_url(kibana: Kibana) -> str:
    """Kibana's address in the space (the default space has no /s/ part)."""
    return kibana.url if kibana.space == "default" else f"{kibana.url}/s/{kibana.space}"


def dashboard_url(kibana: Kibana) -> str:
    return f"{space_url(kibana)}/app/dashboards#/view/{DASHBOARD_ID}"


def install(kibana: Kibana, payload: bytes) -> int:
    """Import `payload` (NDJSON) into the space, replacing objects of the same ids; the number imported.
    Raises KibanaError unless every object was imported: one line, or one per failed object."""
    body, content_type = urllib3.encode_multipart_formdata(
        {"file": ("yuqing.ndjson", payload, "application/ndjson")})  # Kibana wants the .ndjson extension
    headers = {**_credentials(kibana), "kbn-xsrf": "true", "Content-Type": content_type}
    http = urllib3.PoolManager(ca_certs=str(kibana.ca_certs) if kibana.ca_certs else None, retries=False,
                               timeout=urllib3.Timeout(connect=min(kibana.timeout, 10.0), read=kibana.timeout))
    url = f"{space_url(kibana)}/api/saved_objects/_import?overwrite=true"
    try:
        response = http.request("POST", url, body=body, headers=headers)
    except HTTPError as exc:
        raise KibanaError(f"cannot reach Kibana at {kibana.url}: {_reason(exc, kibana)}") from None
    finally:
        http.clear()
    answer = _json(response.data)
    if response.status != 200:
        raise KibanaError(_refusal(response, answer, kibana))
    if not isinstance(answer, dict) or "success" not in answer:
        raise KibanaError(f"{url} did not answer like Kibana's import API; is {kibana.url} Kibana's address?")
    errors = answer.get("errors") or []
    if answer["success"] is not True or errors:
        raise KibanaError(_failures(errors))
    return int(answer.get("successCount", 0))


def _credentials(kibana: Kibana) -> dict[str, str]:
    if kibana.api_key:
        return {"Authorization": f"ApiKey {kibana.api_key}"}
    if kibana.username:
        basic = urllib3.make_headers(basic_auth=f"{kibana.username}:{kibana.password}")
        return {"Authorization": basic["authorization"]}
    return {}


def _reason(exc: HTTPError, kibana: Kibana) -> str:
    said = _CONNECTION.sub("", str(exc))
    if isinstance(exc, NewConnectionError):  # before TimeoutError: urllib3 derives it from ConnectTimeoutError
        return said
    if isinstance(exc, TimeoutError):
        return f"no answer within {kibana.timeout:g}s ([kibana] timeout)"
    if isinstance(exc, SSLError):
        return f"TLS failed ({said}); name the CA that signs Kibana's certificate in [kibana] ca_certs"
    return said


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _refusal(response: Any, answer: Any, kibana: Kibana) -> str:
    status = response.status
    said = answer.get("message") if isinstance(answer, dict) else None
    detail = f"HTTP {status}" + (f": {' '.join(str(said).split())}" if said else "")
    if status == 401:
        given = "refused the credentials" if _credentials(kibana) else "wants credentials"
        return (f"Kibana at {kibana.url} {given} ({detail}); set YUQING_KIBANA__API_KEY (or --api-key), or "
                f"YUQING_KIBANA__USERNAME and YUQING_KIBANA__PASSWORD")
    if status == 403:
        return (f"Kibana at {kibana.url} does not let this user import saved objects into space "
                f"{kibana.space!r} ({detail}); it needs Saved Objects Management and write access to "
                f"dashboards, Visualize Library, Discover and data views there")
    if status == 404 and kibana.space != "default":
        return (f"no space {kibana.space!r} in Kibana at {kibana.url} ({detail}); create it (Stack Management > "
                f"Spaces) or choose another with --space; or {kibana.url} is not Kibana's address")
    if status == 404:
        return f"no import API at {kibana.url} ({detail}); is it Kibana's address, with its base path if it has one?"
    if 300 <= status < 400:
        return (f"Kibana at {kibana.url} redirected to {response.headers.get('Location', '?')} ({detail}); give "
                f"Kibana's own address, or an API key if that is a login page")
    return f"Kibana at {kibana.url} refused the import ({detail})"


def _failures(errors: list[Any]) -> str:
    named = [_failure(error) for error in errors if isinstance(error, dict)]
    if not named:
        return "Kibana reported that the import failed, without naming an object"
    if len(named) == 1:
        return f"Kibana did not import {named[0]}"
    return "\n  ".join([f"Kibana did not import {len(named)} objects:", *named])


def _failure(error: dict[str, Any]) -> str:
    """`lens yuqing-regions (地域分布): missing_references index-pattern/yuqing-posts`"""
    title = error.get("title") or (error.get("meta") or {}).get("title") or ""
    cause = error.get("error") or {}
    what = str(cause.get("type", "unknown"))
    if cause.get("references"):
        what += " " + ", ".join(f"{ref.get('type')}/{ref.get('id')}" for ref in cause["references"])
    elif cause.get("message"):
        what += f" ({cause['message']})"
    return f"{error.get('type')} {error.get('id')}" + (f" ({title})" if title else "") + f": {what}"
