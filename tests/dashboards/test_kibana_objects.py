"""The Kibana saved objects as code: stable ids, whole references, fields that exist, Chinese labels, NDJSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards.kibana.install import DEFAULT_PREFIX, JSON_TEXT, OBJECTS, TYPES, check_prefix, load_objects, ndjson

ROOT = Path(__file__).resolve().parents[2]
# The mapping of each data view's indices, the store's own: tests/store/test_elastic.py checks that the alerts'
# copies carry every field of theirs and no other.
MAPPINGS = {"yuqing-posts": ROOT / "store" / "elastic" / "posts.mappings.json",
            "yuqing-alerts": ROOT / "store" / "elastic" / "alerts.mappings.json"}
# Renaming an id leaves the old object behind in every Kibana it was installed in, and breaks bookmarks.
STABLE_IDS = {
    ("index-pattern", "yuqing-posts"), ("index-pattern", "yuqing-alerts"),
    ("search", "yuqing-negative-posts"), ("dashboard", "yuqing-overview"),
    *(("lens", f"yuqing-{name}") for name in (
        "posts-total", "negative-share", "volume-by-sentiment", "negative-share-trend", "top-keywords",
        "platforms", "source-tiers", "regions", "top-authors", "alerts-over-time")),
}
MIGRATION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.7.0"}
CJK = re.compile(r"[\u4e00-\u9fff]")
KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*:")
RECORDS = "___records___"  # Lens' name for "count the documents", not a field
OBJS = load_objects()
BY_KEY = {(obj["type"], obj["id"]): obj for obj in OBJS}


def _of(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in OBJS if obj["type"] == kind]


def _fields(mapping: dict[str, Any], parent: str = "") -> dict[str, str]:
    out = {}
    for name, spec in mapping.get("properties", {}).items():
        path = f"{parent}{name}"
        out.update(_fields(spec, f"{path}.") if "properties" in spec else {path: spec["type"]})
    return out


MAPPED = {view: _fields(json.loads(path.read_text(encoding="utf-8"))) for view, path in MAPPINGS.items()}


def _dashboard() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    (dashboard,) = _of("dashboard")
    attributes = dashboard["attributes"]
    return dashboard, attributes["panelsJSON"], attributes["controlGroupInput"]["panelsJSON"]


def _lens_layers(lens: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]


def _view_of_layer(lens: dict[str, Any], layer: str) -> str:
    (view,) = [ref["id"] for ref in lens["references"] if ref["name"] == f"indexpattern-datasource-layer-{layer}"]
    return view


def test_ids_are_stable_and_name_their_files() -> None:
    assert set(BY_KEY) == STABLE_IDS and len(OBJS) == len(STABLE_IDS)
    assert sorted(path.stem for path in OBJECTS.glob("*.json")) == sorted(obj["id"] for obj in OBJS)
    assert {obj["type"] for obj in OBJS} <= set(TYPES)


@pytest.mark.parametrize("path", sorted(OBJECTS.glob("*.json")), ids=lambda p: p.name)
def test_each_file_is_one_object_pretty_printed_with_sorted_keys(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    obj = json.loads(text)
    assert text == json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", (
        f"run: python -m json.tool --sort-keys --indent 2 --no-ensure-ascii {path.name}")
    assert set(obj) == {"attributes", "coreMigrationVersion", "id", "references", "type", "typeMigrationVersion"}
    assert (obj["coreMigrationVersion"], obj["typeMigrationVersion"]) == ("8.8.0", MIGRATION[obj["type"]])
    for dotted in JSON_TEXT.get(obj["type"], ()):  # readable in the file, text only in the NDJSON
        node = obj["attributes"]
        for key in dotted.split("."):
            node = node[key]
        assert isinstance(node, dict | list), dotted


def test_every_reference_resolves_to_an_object_in_the_folder() -> None:
    for obj in OBJS:
        names = [ref["name"] for ref in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_KEY, f"{obj['id']} references a missing {ref['type']} {ref['id']}"


def test_the_dashboard_shows_every_panel_once_on_a_grid_without_overlap() -> None:
    dashboard, panels, controls = _dashboard()
    refs = {ref["name"]: ref for ref in dashboard["references"]}
    shown = []
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        ref = refs.pop(f"{panel['panelIndex']}:{panel['panelRefName']}")
        assert ref["type"] == panel["type"]
        shown.append((ref["type"], ref["id"]))
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, f"{panel['panelIndex']} overlaps another panel"
        cells |= area
    for control_id in controls:
        assert refs.pop(f"controlGroup_{control_id}:optionsListDataView")["type"] == "index-pattern"
    assert refs == {}, "references no panel or control uses"
    assert sorted(shown) == sorted((obj["type"], obj["id"]) for obj in OBJS if obj["type"] in ("lens", "search"))


def _accessors(visualization: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(layer id, column id) of every column a Lens visualization draws."""
    for layer in visualization.get("layers", [visualization]):
        for key in ("xAccessor", "splitAccessor", "metricAccessor"):
            if key in layer:
                yield layer["layerId"], layer[key]
        for key in ("accessors", "primaryGroups", "metrics"):
            yield from ((layer["layerId"], column) for column in layer.get(key, []))
        yield from ((layer["layerId"], column["columnId"]) for column in layer.get("columns", []))
        if "sorting" in layer:
            yield layer["layerId"], layer["sorting"]["columnId"]


@pytest.mark.parametrize("lens", _of("lens"), ids=lambda obj: obj["id"])
def test_lens_layers_reference_their_data_view_and_draw_only_their_columns(lens: dict[str, Any]) -> None:
    layers = _lens_layers(lens)
    assert {_view_of_layer(lens, layer) for layer in layers} <= set(MAPPINGS)
    drawn = set(_accessors(lens["attributes"]["state"]["visualization"]))
    assert drawn, "the visualization draws nothing"
    for layer_id, column in drawn:
        assert column in layers[layer_id]["columns"], f"{layer_id}.{column}"
    for layer in layers.values():
        columns = layer["columns"]
        assert sorted(layer["columnOrder"]) == sorted(columns)
        for column in columns.values():
            for needed in column.get("references", []):
                assert needed in columns
            order = column.get("params", {}).get("orderBy", {})
            assert order.get("type") != "column" or order["columnId"] in columns


def _used_fields() -> Iterator[tuple[str, str, str, str]]:
    """(data view, field, how it is used, by which object) for every field the objects name."""
    for view in _of("index-pattern"):
        attributes = view["attributes"]
        yield view["id"], attributes["timeFieldName"], "date", view["id"]
        for field in [*attributes["fieldAttrs"], *attributes["fieldFormatMap"]]:
            yield view["id"], field, "any", view["id"]
        for source_filter in attributes["sourceFilters"]:
            yield view["id"], source_filter["value"], "any", view["id"]
    for lens in _of("lens"):
        state = lens["attributes"]["state"]
        for layer_id, layer in _lens_layers(lens).items():
            view = _view_of_layer(lens, layer_id)
            for field in KQL_FIELD.findall(state["query"]["query"]):
                yield view, field, "any", lens["id"]
            for column in layer["columns"].values():
                if column.get("sourceField", RECORDS) != RECORDS:
                    yield view, column["sourceField"], column["operationType"], lens["id"]
                for field in KQL_FIELD.findall(column.get("filter", {}).get("query", "")):
                    yield view, field, "any", lens["id"]
    for search in _of("search"):
        (view,) = [ref["id"] for ref in search["references"]]
        source = search["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
        for field in [*search["attributes"]["columns"], *KQL_FIELD.findall(source["query"]["query"])]:
            yield view, field, "any", search["id"]
        for field, _ in search["attributes"]["sort"]:
            yield view, field, "sort", search["id"]
    dashboard, _, controls = _dashboard()
    for control in controls.values():
        yield "yuqing-posts", control["explicitInput"]["fieldName"], "terms", dashboard["id"]


# What Elasticsearch can aggregate or sort on: not analysed text.
NEEDS = {"date": {"date"}, "date_histogram": {"date"}, "max": {"long", "integer", "float"},
         "terms": {"keyword", "boolean", "long", "integer"}, "sort": {"date", "keyword", "long", "float"}}


def test_every_field_exists_in_its_mapping_with_a_type_that_fits() -> None:
    used = list(_used_fields())
    assert len(used) > 50
    for view, field, how, by in used:
        mapped = MAPPED[view]
        assert field in mapped, f"{by} uses {field}, which {MAPPINGS[view].name} does not map"
        assert how not in NEEDS or mapped[field] in NEEDS[how], f"{by}: {how} on {field} ({mapped[field]})"


def test_the_checks_above_see_a_missing_field() -> None:
    assert "author.followers" in MAPPED["yuqing-posts"] and "followers" not in MAPPED["yuqing-posts"]
    assert KQL_FIELD.findall('sentiment.label : "negative" and region : *') == ["sentiment.label", "region"]


def test_titles_columns_axes_and_field_names_are_chinese() -> None:
    labels = []
    for obj in OBJS:
        attributes = obj["attributes"]
        labels.append(attributes.get("name") if obj["type"] == "index-pattern" else attributes["title"])
        if obj["type"] == "index-pattern":
            labels += [attrs["customLabel"] for attrs in attributes["fieldAttrs"].values()]
            for fmt in attributes["fieldFormatMap"].values():
                labels += [entry["value"] for entry in fmt["params"].get("lookupEntries", [])]
        if obj["type"] == "lens":
            visualization = attributes["state"]["visualization"]
            labels += [visualization[axis] for axis in ("xTitle", "yTitle") if axis in visualization]
            for layer in _lens_layers(obj).values():
                assert all(column["customLabel"] for column in layer["columns"].values()), obj["id"]
                labels += [column["label"] for column in layer["columns"].values()]
            if attributes["visualizationType"] == "lnsXY":
                assert {"xTitle", "yTitle"} <= set(visualization), obj["id"]
    _, _, controls = _dashboard()
    labels += [control["explicitInput"]["title"] for control in controls.values()]
    assert len(labels) > 100
    assert [label for label in labels if not CJK.search(label or "")] == []


def test_data_views_name_the_default_prefix_in_the_files() -> None:
    assert sorted(view["attributes"]["title"] for view in _of("index-pattern")) == [
        f"{DEFAULT_PREFIX}alerts-*", f"{DEFAULT_PREFIX}posts-*"]


def _lines(prefix: str) -> list[dict[str, Any]]:
    payload = ndjson(prefix).decode("utf-8")
    assert payload.endswith("\n")
    return [json.loads(line) for line in payload.splitlines()]


def test_the_ndjson_is_one_object_a_line_with_kibanas_json_text() -> None:
    lines = _lines(DEFAULT_PREFIX)
    assert [(obj["type"], obj["id"]) for obj in lines] == [(obj["type"], obj["id"]) for obj in OBJS]
    assert [obj["type"] for obj in lines] == sorted((obj["type"] for obj in lines), key=TYPES.index)
    for sent, kept in zip(lines, OBJS, strict=True):
        for dotted in JSON_TEXT.get(sent["type"], ()):
            text, node = sent["attributes"], kept["attributes"]
            for key in dotted.split("."):
                text, node = text[key], node[key]
            assert isinstance(text, str) and json.loads(text) == node, dotted
        if sent["type"] not in JSON_TEXT:
            assert sent == kept


def test_the_prefix_changes_the_data_views_indices_and_nothing_else() -> None:
    ours, theirs = _lines(DEFAULT_PREFIX), _lines("prod.yq_2-")
    titles = {obj["id"]: obj["attributes"].pop("title") for obj in theirs if obj["type"] == "index-pattern"}
    assert titles == {"yuqing-posts": "prod.yq_2-posts-*", "yuqing-alerts": "prod.yq_2-alerts-*"}
    for obj in ours:
        if obj["type"] == "index-pattern":
            obj["attributes"].pop("title")
    assert theirs == ours


@pytest.mark.parametrize("prefix", ["", "Yuqing-", "-yq", "_yq", "yq*", "a,b-", "a b-", "yq/"])
def test_a_prefix_elasticsearch_would_refuse_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="not an index prefix"):
        check_prefix(prefix)
    with pytest.raises(ValueError):
        ndjson(prefix)
