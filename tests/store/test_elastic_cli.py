"""`yuqing es setup`, `yuqing es migrate` and `yuqing status`, against osmem-server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from alerts.state import AlertState, NewAlert, Outgoing
from analysis.grams import index_grams
import settings
from store.base import SearchQuery
from store.elastic import ElasticStore
from store.elastic import client as es_client
from store.embedded import EmbeddedStore
from tests.store.clusters import Cluster, PlainJsonNode, free_port
from tests.store.conftest import BASE, make_event, make_post
from yuqing.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _osmem_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(es_client, "NODE_CLASS", PlainJsonNode)  # why: see tests/store/clusters.py


def write_config(folder: Path, section: settings.Store | None, **extra: object) -> Path:
    lines = ["[store]", f'path = "{(folder / "var").as_posix()}"']
    if section is not None:
        lines += ['backend = "elasticsearch"', f"url = {json.dumps(section.url)}",
                  f'index_prefix = "{section.index_prefix}"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    path = folder / "yuqing.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)])


def test_setup_makes_the_templates_then_a_second_run_changes_nothing(tmp_path: Path, cluster: Cluster) -> None:
    section = cluster.section()
    config = write_config(tmp_path, section, retention="400d")
    try:
        first = cli(config, "es", "setup")
        assert first.exit_code == 0, first.output
        assert f"index template {section.index_prefix}posts: created" in first.output
        assert f"index template {section.index_prefix}alerts: created" in first.output
        assert f"index {section.index_prefix}events: created (the events)" in first.output
        assert "changed: " in first.output
        second = cli(config, "es", "setup")
        assert second.exit_code == 0, second.output
        assert f"index template {section.index_prefix}posts: unchanged" in second.output
        assert f"index {section.index_prefix}events: unchanged" in second.output
        assert "nothing to change" in second.output and "created" not in second.output
    finally:
        cluster.drop(section.index_prefix)


def test_es_commands_on_an_embedded_store_are_a_config_error(tmp_path: Path) -> None:
    done = cli(write_config(tmp_path, None), "es", "setup")
    assert done.exit_code == 2 and done.output.count("\n") == 1
    assert "backend is 'embedded'" in done.output and "Traceback" not in done.output


def test_setup_against_an_unreachable_cluster_is_one_line_exit_1(tmp_path: Path) -> None:
    section = settings.Store(backend="elasticsearch", url=[f"http://127.0.0.1:{free_port()}"])
    done = cli(write_config(tmp_path, section, request_timeout="1s"), "es", "setup")
    assert done.exit_code == 1 and done.output.count("\n") == 1, done.output
    assert "cannot be reached" in done.output and "Traceback" not in done.output


def spool(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / name


def test_status_of_an_embedded_store_with_posts_waiting(tmp_path: Path) -> None:
    config = write_config(tmp_path, None)
    with EmbeddedStore(tmp_path / "var", grams=index_grams) as store:
        store.upsert([make_post(1, "北辰"), make_post(2, "北辰")])
    waiting = tmp_path / "var" / "spool"
    first = spool(waiting, "news-1-1.jsonl", ['{"a": 1}', '{"a": 2}', "", '{"a": 3}'])
    (waiting / (first.name + ".stored")).write_text("1")  # its first line is stored already
    spool(waiting, "forum-2-1.jsonl", ['{"a": 4}', '{"a": 5}'])
    spool(waiting, f"forum-3-{os.getpid()}.jsonl.part", ['{"a": 6}'])  # a crawl still writing: not waiting yet
    done = cli(config, "status")
    assert done.exit_code == 0, done.output
    assert "store:  embedded" in done.output and "health: ok: 2 posts" in done.output
    assert "spool:  2 files, 4 posts waiting" in done.output


def test_status_of_a_cluster_up_then_down(tmp_path: Path, cluster: Cluster, es_section: settings.Store) -> None:
    with ElasticStore(es_section, grams=index_grams, client=cluster.connect(es_section)) as store:
        store.upsert([make_post(1, "北辰"), make_post(2, "北辰", hours=24 * 40)])
    done = cli(write_config(tmp_path, es_section), "status", "--format", "json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["ok"] and report["backend"] == "elasticsearch" and report["spool"]["files"] == 0
    assert "2 posts in 2 monthly indices (2024.03 … 2024.04)" in report["health"]

    down = es_section.model_copy(update={"url": [f"http://127.0.0.1:{free_port()}"]})
    spool(tmp_path / "var" / "spool", "news-1-1.jsonl", ['{"a": 1}'])
    done = cli(write_config(tmp_path, down, request_timeout="1s"), "status")
    assert done.exit_code == 1, done.output
    assert "health: FAILING: the Elasticsearch cluster at" in done.output and "cannot be reached" in done.output
    assert "spool:  1 file, 1 post waiting" in done.output


def test_status_says_to_run_setup_on_a_cluster_without_templates(tmp_path: Path, cluster: Cluster) -> None:
    done = cli(write_config(tmp_path, cluster.section()), "status")
    assert done.exit_code == 1 and "run `yuqing es setup`" in done.output


def embedded_with(folder: Path, count: int, start: int = 0) -> Path:
    with EmbeddedStore(folder, grams=index_grams) as store:
        for first in range(start, start + count, 1000):
            store.upsert(make_post(n, "北辰 帖子", hours=n) for n in range(first, min(start + count, first + 1000)))
    return folder


def test_migrate_copies_everything_then_only_what_came_since(tmp_path: Path, cluster: Cluster,
                                                             es_section: settings.Store) -> None:
    source = embedded_with(tmp_path / "old", 1200)
    event = make_event(1, quiet=timedelta(hours=1))
    with EmbeddedStore(source, grams=index_grams) as store:
        store.upsert_events([event])
    config = write_config(tmp_path, es_section)
    state = AlertState.for_data_dir(tmp_path / "var")  # the alerts of the service that ran on the embedded store
    try:
        for n in (1, 2):
            state.open_alert(NewAlert(f"post:co:news:{n}", "kw", "co", "high", f"北辰 恶臭 {n}", "敏感词：恶臭",
                                      f"http://127.0.0.1/p/{n}", {}, post_ids=[f"news:{n}"]), None, BASE)
        state.act(1, "resolve", "张三", BASE + timedelta(hours=1))
    finally:
        state.close()
    done = cli(config, "es", "migrate", "--from", str(source))
    assert done.exit_code == 0, done.output
    assert ("copied 1,200 posts (1,200 new, 0 updated); the cluster holds 1,200 posts; copied 1 event and 2 alerts"
            in done.output)
    with ElasticStore(es_section, client=es_client.connect(es_section)) as cluster_store:
        assert cluster_store.get_event(event.id) == event  # the service goes on with it there
    with cluster.client() as client:  # Kibana's alerts panels have them
        found = client.search(index=f"{es_section.index_prefix}alerts", sort=[{"id": "asc"}])["hits"]["hits"]
        assert [(hit["_id"], hit["_source"]["state"]) for hit in found] == [
            ("post:co:news:1", "resolved"), ("post:co:news:2", "open")]
    again = cli(config, "es", "migrate", "--from", str(source))
    assert "copied 0 posts" in again.output and "going on after 1,200 posts" in again.output
    assert "copied 1 event and 2 alerts" in again.output  # all of them each run, stored once by their key
    embedded_with(source, 10, start=5000)
    with EmbeddedStore(source, grams=index_grams) as store:  # one known post updated: it comes again, later in the order
        store.upsert([make_post(3, "北辰 帖子 更新", hours=3)])
    third = cli(config, "es", "migrate", "--from", str(source))
    assert "copied 11 posts (10 new, 1 updated); the cluster holds 1,210 posts" in third.output, third.output


def test_migrate_goes_on_where_a_killed_run_stopped(tmp_path: Path, cluster: Cluster,
                                                   es_section: settings.Store) -> None:
    source = embedded_with(tmp_path / "old", 4000)
    config = write_config(tmp_path, es_section)
    # The command in a process of its own, with osmem's transport, killed outright mid-way.
    code = ("import sys; from tests.store.clusters import PlainJsonNode; import store.elastic.client as c; "
            "c.NODE_CLASS = PlainJsonNode; from yuqing.cli import main; sys.argv[0] = 'yuqing'; main()")
    child = subprocess.Popen([sys.executable, "-c", code, "es", "migrate", "--from", str(source), "--batch-size", "50",
                              "--config", str(config)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoints: list[Path] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        checkpoints = list((tmp_path / "var").glob("es-migrate-*.json"))
        if checkpoints:
            try:
                copied = json.loads(checkpoints[0].read_text())["copied"]
            except ValueError:
                continue
            if copied >= 500:
                child.send_signal(signal.SIGKILL)
                break
        time.sleep(0.01)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read()  # type: ignore[union-attr]
    copied = json.loads(checkpoints[0].read_text())["copied"]
    assert 500 <= copied < 4000

    done = cli(config, "es", "migrate", "--from", str(source))
    assert done.exit_code == 0, done.output
    assert f"going on after {copied:,} posts copied before" in done.output
    assert f"copied {4000 - copied:,} posts" in done.output and "the cluster holds 4,000 posts" in done.output
    with ElasticStore(es_section, grams=index_grams, client=cluster.connect(es_section)) as store:
        assert store.count(SearchQuery()) == 4000
        assert {p.id for p in store.search(SearchQuery(limit=4000)).posts} == {f"news:{n}" for n in range(4000)}


def test_status_counts_the_mail_waiting_and_the_alert_changes_the_cluster_has_not_taken(
        tmp_path: Path, cluster: Cluster, es_section: settings.Store) -> None:
    state = AlertState.for_data_dir(tmp_path / "var")
    try:
        for n in (1, 2):
            state.open_alert(NewAlert(f"post:co:news:{n}", "kw", "co", "high", f"北辰 恶臭 {n}", "敏感词：恶臭",
                                      f"http://127.0.0.1/p/{n}", {}, post_ids=[f"news:{n}"]),
                             Outgoing("alert", {}, [("email", ["duty@example.com"])]), BASE)
        (first, *_) = state.due_deliveries(BASE)
        state.mark_failed(first.id, "refused", BASE)
        embedded = cli(write_config(tmp_path, None), "status")
        assert "alerts: 2 mails waiting in the outbox (1 failed at least once)" in embedded.output, embedded.output
        assert "cluster" not in embedded.output.split("alerts: ")[1]  # the embedded store takes no copies
        config = write_config(tmp_path, es_section)
        done = cli(config, "status", "--format", "json")
        assert done.exit_code == 0, done.output
        report = json.loads(done.output)["alerts"]
        assert (report["pending"], report["failing"], report["unsynced"]) == (2, 1, 2)
        assert "2 alert changes waiting to be copied to the cluster" in report["said"]
    finally:
        state.close()
    (tmp_path / "var" / "alerts.db").write_bytes(b"not a database" * 100)
    done = cli(config, "status")
    assert done.exit_code == 1 and "alerts: FAILING: " in done.output and "alerts.db" in done.output
