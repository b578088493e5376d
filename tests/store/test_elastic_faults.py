"""The service on an Elasticsearch store whose cluster fails for real: osmem-server frozen (SIGSTOP) or killed
(SIGKILL) mid-ingest, or refusing writes. The spool keeps every post until the cluster takes it; each post is
stored once, each alert made once; the alerts' copies in the cluster catch up once it is back, and mail never
waits for it."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import settings as config
from alerts.state import Outgoing, alert_posts, deliveries
from alerts.state import alerts as alert_rows
from store.base import SearchQuery
from store.elastic import client as es_client
from store.elastic.layout import setup
from tests.store.clusters import PlainJsonNode, free_port, osmem_binary_or_skip
from yuqing.demo.mailsink import MailSink
from yuqing.ingest import pending
from yuqing.service import Service
from models import Post, now

FILES, PER_FILE = 6, 300


class OwnOsmem:
    """An osmem-server of this test alone, to stop, kill and start again on the same port."""

    def __init__(self) -> None:
        self.start_server = osmem_binary_or_skip()
        self.addr = f"127.0.0.1:{free_port()}"
        self.server = self.start_server(addr=self.addr, japanese=False)
        self.url = self.server.url

    def signal(self, number: int) -> None:
        os.kill(self.server.process.pid, number)

    def restart(self) -> None:
        self.server.process.wait()
        self.server = self.start_server(addr=self.addr, japanese=False)

    def close(self) -> None:
        self.signal(signal.SIGCONT)
        self.server.close()


@pytest.fixture
def own_osmem(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnOsmem]:
    monkeypatch.setattr(es_client, "NODE_CLASS", PlainJsonNode)  # why: see tests/store/clusters.py
    server = OwnOsmem()
    yield server
    server.close()


def service_for(tmp_path: Path, url: str, smtp_port: int | None = None) -> Service:
    settings = config.Settings(
        schemes=[config.Scheme(name="co", keywords=["北辰燃料乙醇"])],
        alerts={"recipients": ["oncall@example.com"], "rules": [  # type: ignore[arg-type]
            {"name": "black-water", "type": "keyword", "scheme": "co", "terms": ["发黑"], "severity": "high"}]},
        smtp={"port": smtp_port or free_port(), "timeout": 1},  # type: ignore[arg-type]
        store=config.Store(backend="elasticsearch", url=[url], index_prefix="faults-", path=tmp_path / "var",
                           request_timeout=1),
    )
    with es_client.connect(settings.store) as client:
        setup(client, settings.store)
    return Service(settings, None)


def item(n: int, crawled_minutes_ago: float = 0, comments: int = 0) -> dict[str, object]:
    moment = now() - timedelta(minutes=crawled_minutes_ago)
    # Every tenth post tells of black water, and alerts; every seventh was published 40 days ago (another month).
    published = moment - timedelta(days=40) if n % 7 == 0 else moment - timedelta(minutes=5)
    return {"url": f"http://127.0.0.1/news/{n}.html", "source": "news", "platform": "news",
            "title": f"北辰燃料乙醇 第{n}条消息", "content": "厂区下游河水发黑，居民投诉" if n % 10 == 0 else "例行报道",
            "published_at": published.isoformat(), "crawled_at": moment.isoformat(), "metrics": {"comments": comments}}


def spool_files(service: Service, items: list[list[dict[str, object]]]) -> None:
    service.spool_dir.mkdir(parents=True, exist_ok=True)
    for number, lines in enumerate(items):
        path = service.spool_dir / f"news-{number:02d}-1.jsonl"
        path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in lines), encoding="utf-8")
        stamp = time.time() - 100 + number  # written in this order
        os.utime(path, (stamp, stamp))


def stored_ids(service: Service) -> list[str]:
    result = service.store.search(SearchQuery(limit=10_000))
    assert result.total == service.store.count(SearchQuery())
    return [p.id for p in result.posts]


def alert_counts(service: Service) -> tuple[int, int, int]:
    """(alerts, posts that fed them, outbox rows). A post feeds one alert of a scheme at most (its key)."""
    with service.alert_state.engine.connect() as conn:
        made = conn.execute(select(func.count()).select_from(alert_rows)).scalar_one()
        posts = conn.execute(select(func.count()).select_from(alert_posts)).scalar_one()
        mail = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    return made, posts, mail


def alerted(service: Service) -> set[str]:
    with service.alert_state.engine.connect() as conn:
        return set(conn.execute(select(alert_posts.c.post_id)).scalars())


def ids_of(numbers: Iterable[int]) -> set[str]:
    return {Post.from_item(item(n)).id for n in numbers}


def ingest_until_a_file_is_done_then(service: Service, act: Callable[[], None]) -> None:
    """service.process() in a thread; once the first spool file is stored, `act()` (the fault) at once."""
    first = service.spool_dir / "news-00-1.jsonl"
    worker = threading.Thread(target=service.process)
    worker.start()
    deadline = time.monotonic() + 60
    while first.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    act()
    worker.join(120)
    assert not worker.is_alive()


def test_a_cluster_frozen_mid_ingest_loses_nothing_and_repeats_nothing(tmp_path: Path, own_osmem: OwnOsmem) -> None:
    service = service_for(tmp_path, own_osmem.url)
    try:
        batches = [[item(n) for n in range(f * PER_FILE, (f + 1) * PER_FILE)] for f in range(FILES)]
        batches[-1] += [item(n, comments=9) for n in range(10)]  # crawled again later: updates, never copies
        spool_files(service, batches)
        ingest_until_a_file_is_done_then(service, lambda: own_osmem.signal(signal.SIGSTOP))
        waiting = pending(service.spool_dir)
        assert 0 < len(waiting) < FILES  # the frozen cluster stopped the ingest; the spool kept the rest
        own_osmem.signal(signal.SIGCONT)

        service.process()
        assert pending(service.spool_dir) == []
        ids = stored_ids(service)
        assert len(ids) == len(set(ids)) == FILES * PER_FILE
        recrawled = [service.store.get(Post.from_item(item(n)).id) for n in range(10)]
        assert [p.metrics.comments for p in recrawled] == [9] * 10  # type: ignore[union-attr]
        alertable = ids_of(n for n in range(FILES * PER_FILE) if n % 10 == 0 and n % 7 != 0)
        assert alertable <= alerted(service)  # however the posts group into events, each is in an alert
        made, posts, mail = counts = alert_counts(service)
        assert made == mail >= 1  # one mail per alert: one rule, one recipient, no severity to rise
        service.process()  # nothing waits; evaluating again alerts nobody twice
        assert alert_counts(service) == counts
    finally:
        service.stop()


def test_a_cluster_killed_mid_ingest_gets_every_waiting_post_once_it_is_back(tmp_path: Path,
                                                                           own_osmem: OwnOsmem) -> None:
    """osmem keeps its indices in memory, so what it held before the kill is gone with it (a real cluster keeps
    it); what waited in the spool is stored once it is back and set up again, each post once, no alert twice."""
    service = service_for(tmp_path, own_osmem.url)
    try:
        spool_files(service, [[item(n) for n in range(f * PER_FILE, (f + 1) * PER_FILE)] for f in range(FILES)])
        ingest_until_a_file_is_done_then(service, lambda: own_osmem.signal(signal.SIGKILL))
        alerted_before = alert_counts(service)
        waiting = {}
        for path in pending(service.spool_dir):
            mark = path.with_name(path.name + ".stored")
            done = int(mark.read_text()) if mark.exists() else 0
            lines = path.read_text(encoding="utf-8").splitlines()[done:]
            waiting.update({json.loads(line)["url"]: line for line in lines})
        assert 0 < len(waiting) < FILES * PER_FILE

        own_osmem.restart()
        service.process()  # the new cluster has no templates: nothing is written, the spool waits
        assert len(pending(service.spool_dir)) > 0 and service.store.count(SearchQuery()) == 0
        with es_client.connect(service.settings.store) as client:
            setup(client, service.settings.store)
        service.process()
        assert pending(service.spool_dir) == []
        ids = stored_ids(service)
        assert len(ids) == len(set(ids)) == len(waiting)
        made, posts, mail = counts = alert_counts(service)
        assert made == mail and made >= alerted_before[0] and posts >= alerted_before[1]
        service.process()
        assert alert_counts(service) == counts
    finally:
        service.stop()


def test_while_the_cluster_refuses_writes_rules_wait_for_the_spooled_posts(tmp_path: Path,
                                                                         own_osmem: OwnOsmem) -> None:
    """A cluster that reads but refuses writes (a write block, as a full disk sets): alert rules read what was
    crawled since their last run, so running them meanwhile would move them past the posts waiting in the spool.
    They wait too, and alert on those posts once they are stored."""
    service = service_for(tmp_path, own_osmem.url)
    try:
        # The month's index, to be blocked below: published when the spooled posts are (not a month apart near
        # midnight at a month's end).
        service.store.upsert([Post.from_item(item(1, crawled_minutes_ago=30))])
        with es_client.connect(service.settings.store) as client:
            client.indices.put_settings(index="faults-posts-*", settings={"index.blocks.write": True})
            spool_files(service, [[item(n, crawled_minutes_ago=30) for n in (10, 20, 30)]])
            service.process()
            assert len(pending(service.spool_dir)) == 1 and alert_counts(service)[0] == 0
            assert service.alert_state.checkpoint("black-water") is None
            client.indices.put_settings(index="faults-posts-*", settings={"index.blocks.write": None})
        service.process()
        assert pending(service.spool_dir) == [] and alerted(service) == ids_of((10, 20, 30))
    finally:
        service.stop()


def alert_copies(url: str) -> list[dict[str, object]]:
    """The documents of the alerts index, as Kibana's alerts panels read them, with their ids."""
    with es_client.connect(config.Store(backend="elasticsearch", url=[url])) as client:
        client.indices.refresh(index="faults-alerts")
        hits = client.search(index="faults-alerts", size=100)["hits"]["hits"]
    return [{"_id": hit["_id"], **hit["_source"]} for hit in hits]


def test_alerts_reach_the_cluster_and_catch_up_after_it_was_frozen_while_mail_goes_on(
        tmp_path: Path, own_osmem: OwnOsmem) -> None:
    with MailSink(tmp_path / "mail") as sink:
        service = service_for(tmp_path, own_osmem.url, sink.port)
        try:
            spool_files(service, [[item(10)]])
            service.process()  # the real engine opens the alert, mails it, and copies it into the cluster
            [alert] = service.alert_state.list_alerts()
            assert len(sink.messages()) == 1
            [copy] = alert_copies(own_osmem.url)
            assert copy["_id"] == alert["key"] and copy["state"] == "open" and copy["id"] == alert["id"]
            assert copy["post_ids"] == [Post.from_item(item(10)).id] and copy["severity"] == "high"

            service.alert_state.act(alert["id"], "ack", "值班员", now())  # as the dashboard or `yuqing alerts ack`
            service.process()
            [copy] = alert_copies(own_osmem.url)
            assert copy["state"] == "acknowledged" and copy["acknowledged_by"] == "值班员"

            own_osmem.signal(signal.SIGSTOP)
            service.alert_state.act(alert["id"], "assign", "值班员", now(), assignee="李四")
            # A digest queued meanwhile, as the engine queues one for a growing event: it goes out all the same.
            service.alert_state.follow_up(alert["id"], Outgoing("digest", {**alert["payload"], "new_posts": 1}, [
                ("email", ["oncall@example.com"])]), now())
            started = time.monotonic()
            service.process()
            assert len(sink.messages()) == 2 and time.monotonic() - started < 30
            assert [c.alert_id for c in service.alert_state.unsynced(10)] == [alert["id"]]  # kept for the next round

            own_osmem.signal(signal.SIGCONT)
            service.process()
            copies = alert_copies(own_osmem.url)
            assert len(copies) == 1 and copies[0]["assignee"] == "李四" and copies[0]["state"] == "acknowledged"
            assert service.alert_state.unsynced(10) == []
        finally:
            service.stop()
