"""Where posts live in the cluster, and `yuqing es setup`, which makes it so.

Posts go to monthly indices named from their time (published, else crawled) in Asia/Shanghai, such as
`yuqing-posts-2024.03`; a rebuild (`yuqing reindex`) copies one into `yuqing-posts-2024.03-2` and drops the
old. All of them stand under the alias `yuqing-posts`, which searches, `get` and Kibana read. Writes name the
month's index itself: an alias writes to one index only, and a post's month is known before it is written.

The index template gives every monthly index its strict mapping, its settings and the alias; where the
cluster has ILM and [store] retention is set, also the lifecycle policy, which deletes a month's index that
long after the month ends (each index's origination date is set to the start of the next month).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from elasticsearch import ApiError, BadRequestError, Elasticsearch

from models import SHANGHAI

if TYPE_CHECKING:
    import settings

_MONTH = re.compile(r"(\d{4}\.\d{2})(?:-(\d+))?")
_PRIORITY = 200  # above the built-in templates of Elasticsearch (100), so a prefix like theirs cannot clash
_META = {"managed_by": "yuqing"}


def _resource(name: str) -> dict[str, Any]:
    return json.loads(files("store.elastic").joinpath(name).read_text(encoding="utf-8"))


def month_of(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y.%m")


def month_end(month: str) -> int:
    """The start of the month after `month`, in epoch milliseconds: when its newest post may be."""
    year, number = map(int, month.split("."))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return int(datetime(year, number, 1, tzinfo=SHANGHAI).timestamp()) * 1000


@dataclass(frozen=True)
class Layout:
    prefix: str

    @property
    def posts(self) -> str:
        """The alias over every monthly index, the posts template and the lifecycle policy."""
        return f"{self.prefix}posts"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    def alerts_index(self, created: datetime) -> str:
        """An alert's copy lives in the index of the month it was created in, which never changes: one copy."""
        return f"{self.alerts}-{month_of(created)}"

    @property
    def events(self) -> str:
        """One index of events (a few thousand a year, rewritten as they grow): no months, no alias."""
        return f"{self.prefix}events"

    def index(self, month: str, generation: int = 1) -> str:
        return f"{self.posts}-{month}" if generation == 1 else f"{self.posts}-{month}-{generation}"

    def parse(self, index: str) -> tuple[str, int] | None:
        """(month, generation) of one of our monthly indices; None for any other name."""
        if not index.startswith(f"{self.posts}-"):
            return None
        match = _MONTH.fullmatch(index.removeprefix(f"{self.posts}-"))
        return (match.group(1), int(match.group(2) or 1)) if match else None

    def posts_template(self, lifecycle: bool) -> dict[str, Any]:
        template_settings = _resource("posts.settings.json")
        if lifecycle:
            template_settings["index.lifecycle.name"] = self.posts
        return {"index_patterns": [f"{self.posts}-*"], "priority": _PRIORITY, "_meta": _META,
                "template": {"settings": template_settings, "mappings": _resource("posts.mappings.json"),
                             "aliases": {self.posts: {}}}}

    def alerts_template(self) -> dict[str, Any]:
        return {"index_patterns": [f"{self.alerts}-*"], "priority": _PRIORITY, "_meta": _META,
                "template": {"settings": {"number_of_shards": 1}, "mappings": _resource("alerts.mappings.json"),
                             "aliases": {self.alerts: {}}}}


def has_ilm(client: Elasticsearch) -> bool:
    """Whether the cluster has index lifecycle management (Elasticsearch does; OpenSearch has ISM instead)."""
    try:
        client.ilm.get_status()
    except ApiError as exc:
        if exc.meta.status in (400, 404, 405):  # no such endpoint
            return False
        raise
    return True


def describe(client: Elasticsearch) -> str:
    version = client.info()["version"]
    return f"{'OpenSearch' if version.get('distribution') == 'opensearch' else 'Elasticsearch'} {version['number']}"


# ---- yuqing es setup ----
@dataclass
class Step:
    what: str
    outcome: str  # created, updated, unchanged, skipped
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.outcome in ("created", "updated")


def _duration(seconds: float) -> str:
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """Index settings as the cluster gives them back: dotted `index.` names, values as strings."""
    out: dict[str, Any] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{path}{key}.")
            elif isinstance(value, list):
                out[path + key] = [str(v) for v in value]
            else:
                out[path + key] = str(value).lower() if isinstance(value, bool) else str(value)

    walk(values, "")
    return {name if name.startswith("index.") else f"index.{name}": value for name, value in out.items()}


def _same_template(existing: dict[str, Any], wanted: dict[str, Any]) -> bool:
    held, want = existing.get("template", {}), wanted["template"]
    return (existing.get("index_patterns") == wanted["index_patterns"] and existing.get("priority") == wanted["priority"]
            and existing.get("_meta") == wanted["_meta"] and held.get("mappings") == want["mappings"]
            and _flat(held.get("settings", {})) == _flat(want["settings"]) and held.get("aliases", {}) == want["aliases"])


def _stored_template(client: Elasticsearch, name: str) -> dict[str, Any] | None:
    found = client.options(ignore_status=404).indices.get_index_template(name=name)
    templates = found.body.get("index_templates") or []
    return templates[0]["index_template"] if templates else None


def _template(client: Elasticsearch, name: str, wanted: dict[str, Any], what: str) -> Step:
    existing = _stored_template(client, name)
    if existing is not None and _same_template(existing, wanted):
        return Step(f"index template {name}", "unchanged", what)
    client.indices.put_index_template(name=name, **wanted)
    return Step(f"index template {name}", "created" if existing is None else "updated", what)


def _policy(client: Elasticsearch, layout: Layout, retention: float | None, ilm: bool, cluster: str) -> Step:
    what = f"ILM policy {layout.posts}"
    if not ilm:
        kept = (f"[store] retention ({_duration(retention)}) is not applied: delete old monthly indices yourself"
                if retention else "posts are kept until you delete them")
        return Step(what, "skipped", f"{cluster} has no index lifecycle management (ILM); {kept}")
    if not retention:
        return Step(what, "skipped", "[store] retention is not set: posts are kept until you delete them")
    policy = {"_meta": _META, "phases": {"delete": {"min_age": _duration(retention),
                                                      "actions": {"delete": {"delete_searchable_snapshot": True}}}}}
    found = client.options(ignore_status=404).ilm.get_lifecycle(name=layout.posts).body
    existing = found.get(layout.posts, {}).get("policy")
    detail = f"deletes a month's posts {_duration(retention)} after the month ends"
    if existing is not None and {k: existing.get(k) for k in policy} == policy:
        return Step(what, "unchanged", detail)
    client.ilm.put_lifecycle(name=layout.posts, policy=policy)
    return Step(what, "created" if existing is None else "updated", detail)


def _events_index(client: Elasticsearch, layout: Layout) -> Step:
    what = f"index {layout.events}"
    wanted = _resource("events.mappings.json")
    held = client.options(ignore_status=404).indices.get_mapping(index=layout.events).body
    if layout.events not in held:
        client.indices.create(index=layout.events, mappings=wanted, settings={"number_of_shards": 1})
        return Step(what, "created", "the events")
    if held[layout.events].get("mappings") == wanted:
        return Step(what, "unchanged", "the events")
    try:
        client.indices.put_mapping(index=layout.events, **wanted)
    except BadRequestError as exc:  # a field whose type changed: only a new index can have it
        return Step(what, "skipped", f"its mapping cannot take this version's ({exc.message}); delete the index "
                    "and run setup again: events go on from the next posts")
    return Step(what, "updated", "the events: new fields added")


def _widen(client: Elasticsearch, layout: Layout, stale: list[str]) -> list[str]:
    """Add this version's new fields to monthly indices made by an older template (a strict mapping refuses a
    post with a field it lacks); those whose fields changed otherwise stay stale. Returns what stays stale."""
    wanted = _resource("posts.mappings.json")
    left = []
    for index in stale:
        try:
            client.indices.put_mapping(index=index, **wanted)
        except BadRequestError:
            left.append(index)
    return left


def setup(client: Elasticsearch, section: settings.Store) -> list[Step]:
    """Make the lifecycle policy and the index templates what this version of yuqing writes; touch what differs
    only, and say for each whether it was created, updated, left unchanged or skipped (and why)."""
    layout = Layout(section.index_prefix)
    ilm = has_ilm(client)
    cluster = describe(client)
    lifecycle = ilm and bool(section.retention)
    steps = [_policy(client, layout, section.retention, ilm, cluster),
             _template(client, layout.posts, layout.posts_template(lifecycle),
                       f"monthly indices {layout.posts}-YYYY.MM under the alias {layout.posts}"),
             _template(client, layout.alerts, layout.alerts_template(),
                       f"indices {layout.alerts}-* under the alias {layout.alerts}"),
             _events_index(client, layout)]
    if steps[1].outcome == "updated":
        stale = stale_indices(client, layout)
        left = _widen(client, layout, stale)
        if len(left) < len(stale):
            steps[1].detail += f"; new fields added to {len(stale) - len(left)} existing monthly indices"
        if left:
            steps[1].detail += (f"; {len(left)} existing monthly indices keep their old mapping and settings until "
                                "`yuqing reindex` rebuilds them")
    return steps


def stale_indices(client: Elasticsearch, layout: Layout) -> list[str]:
    """Our monthly indices whose mapping is not the one the template gives new ones."""
    wanted = _resource("posts.mappings.json")
    found = client.options(ignore_status=404).indices.get_mapping(index=layout.posts).body
    return sorted(name for name, held in found.items()
                  if layout.parse(name) and held.get("mappings") != wanted)


def has_template(client: Elasticsearch, name: str) -> bool:
    return _stored_template(client, name) is not None


def template_lifecycle(client: Elasticsearch, layout: Layout) -> bool | None:
    """None when the posts template is missing; else whether it names a lifecycle policy."""
    existing = _stored_template(client, layout.posts)
    if existing is None:
        return None
    return "index.lifecycle.name" in _flat(existing.get("template", {}).get("settings", {}))
