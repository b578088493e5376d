"""Events through ingest and the service: stored right after their posts, kept when storing them fails, and
continued after a restart."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from analysis.grams import index_grams
from analysis.pipeline import Analyzer
import settings as config
from models import Post, now
from store.base import EventQuery, SearchQuery, Store
from store.embedded import EmbeddedStore
from tests.analysis.test_events import STORY, demo_items, demo_settings
from yuqing.ingest import Ingester
from yuqing.service import Service


def recent() -> list[dict]:
    """The demo's story, told ten minutes ago: its events are active."""
    return demo_items(now() - timedelta(minutes=10))


def spool(folder: Path, name: str, items: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps({**i, "published_at": i["published_at"].isoformat()}, ensure_ascii=False) + "\n"
                            for i in items), encoding="utf-8")
    return path


def slugs(posts: list[Post]) -> list[str]:
    return sorted(p.url.rsplit("/", 1)[1].removesuffix(".html") for p in posts)


def first_complaint(store: Store) -> Post:
    return next(p for p in store.search(SearchQuery(limit=100)).posts if p.url.endswith("/t2.html"))


def test_a_batchs_events_are_stored_with_its_posts(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        spool(tmp_path / "spool", "demo-1-1.jsonl", recent())
        report = Ingester(tmp_path / "spool", Analyzer.from_settings(demo_settings()), store).run()
        assert report.posts == 10 and report.events >= 2
        event = store.get_event(first_complaint(store).event_id)
        assert event is not None and event.posts == 6 and event.status == "active"
        assert slugs(store.search(SearchQuery(event_id=event.id, limit=50)).posts) == sorted(STORY)
        assert [store.get(i).url.rsplit("/", 1)[1] for i in event.responses] == ["n5.html"]  # type: ignore[union-attr]
        assert event.id in [e.id for e in store.events(EventQuery(scheme="beichen", status="active"))]


def test_events_the_store_fails_to_take_go_with_the_next_batch_and_no_post_is_lost(tmp_path: Path) -> None:
    items = recent()
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        ingester = Ingester(tmp_path / "spool", Analyzer.from_settings(demo_settings()), store)
        with sqlite3.connect(tmp_path / "store" / "posts.db") as db:  # the events table lost to damage
            db.execute("DROP TABLE events")
        first = spool(tmp_path / "spool", "demo-1-1.jsonl", items[:6])
        report = ingester.run()
        assert report.posts == 6 and report.events == 0 and not first.exists()
        assert store.count(SearchQuery()) == 6  # every post stored, each with its event
        with sqlite3.connect(tmp_path / "store" / "posts.db") as db:  # repaired (as opening the store does)
            db.execute("CREATE TABLE events (id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL, risk REAL NOT NULL, "
                       "doc TEXT NOT NULL)")
        spool(tmp_path / "spool", "demo-1-2.jsonl", items[6:])
        ingester.run()
        event = store.get_event(first_complaint(store).event_id)
        assert event is not None and event.posts == 6, "the counts of the first batch were kept"
        assert sum(e.posts for e in store.events(EventQuery(limit=100))) == 10


def service_settings(tmp_path: Path) -> config.Settings:
    return demo_settings().model_copy(update={"store": config.Store(path=tmp_path / "var")})


@pytest.mark.parametrize("backend", ["embedded", "osmem"])
def test_a_restarted_service_continues_the_same_event(tmp_path: Path, backend: str,
                                                      request: pytest.FixtureRequest) -> None:
    settings = service_settings(tmp_path)
    if backend == "osmem":
        from store.elastic import client as es_client
        from tests.conftest import set_up
        from tests.store.clusters import PlainJsonNode

        cluster = request.getfixturevalue("osmem")
        section = set_up(cluster, request)
        request.getfixturevalue("monkeypatch").setattr(es_client, "NODE_CLASS", PlainJsonNode)
        settings = settings.model_copy(update={"store": section.model_copy(update={"path": tmp_path / "var"})})
    items = recent()
    first = Service(settings, None)
    try:
        assert first.ingester.restored  # an empty store: nothing to continue, but asked
        spool(first.spool_dir, "demo-1-1.jsonl", items[:6])  # up to the repost of the complaint
        first.ingester.run()
        complaint = first_complaint(first.store)
        story = complaint.event_id
    finally:
        first.stop()
    second = Service(settings, None)  # a new process would start the same way: nothing of the story in memory
    try:
        assert story in second.analyzer.events.events
        spool(second.spool_dir, "demo-2-1.jsonl", items[6:])
        second.ingester.run()
        posts = second.store.search(SearchQuery(event_id=story, limit=50)).posts
        assert slugs(posts) == sorted(STORY)
        event = second.store.get_event(story)
        assert event is not None and event.posts == 6 and event.first_post == complaint.id
    finally:
        second.stop()
