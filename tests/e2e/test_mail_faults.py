"""The mail server misbehaves for real: a server process frozen with SIGSTOP, and a server that kills the
sending `yuqing run` (SIGKILL) at the moment it accepts a message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from analysis.grams import index_grams
import settings as config
from alerts.engine import AlertEngine
from alerts.state import AlertState
from models import now
from store.base import SearchQuery
from store.embedded import EmbeddedStore
from tests.alerts.conftest import make_post, make_settings
from tests.crawlers.fakes import FakeWeb
from tests.e2e.conftest import REPO, MailProcess, free_port
from yuqing.service import Service

ALERTS = 20

FEED_CONFIG = """
[store]
path = "{store}"

[[schemes]]
name = "co"
keywords = ["北辰燃料乙醇"]

[[sources]]
name = "feed"
type = "rss"
url = "{feed}"
interval = "4s"
download_delay = 0

[alerts]
recipients = ["oncall@example.com"]
evaluate_every = "1s"
retry_base = "1s"
retry_max = "2s"
delivery_deadline = "5s"

[[alerts.rules]]
name = "kw"
type = "keyword"
scheme = "co"
terms = ["恶臭"]

[smtp]
port = {smtp_port}
timeout = "3s"
"""


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _rss(items: list[tuple[int, str]]) -> bytes:
    published = format_datetime(now())
    entries = "".join(f"<item><title>{title}</title><link>/a/{n}.html</link><description>{title}，居民反映。"
                      f"</description><pubDate>{published}</pubDate></item>" for n, title in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>白桦新闻</title>'
            f"{entries}</channel></rss>").encode()


def _titles(first: int, count: int, alerting: Callable[[int], bool]) -> list[tuple[int, str]]:
    """Numbered posts of the scheme; those `alerting` picks carry the sensitive term."""
    return [(n, f"北辰燃料乙醇第{n}号通报{'厂区恶臭' if alerting(n) else '生产情况'}")
            for n in range(first, first + count)]


def test_a_hung_mail_server_holds_up_neither_crawling_nor_alerting(tmp_path: Path, mail_process: MailProcess) -> None:
    items = _titles(1, ALERTS, lambda n: True)
    web = FakeWeb()
    web.routes["/feed.xml"] = lambda _: (200, "application/rss+xml; charset=utf-8", _rss(items))
    config_file = tmp_path / "yuqing.toml"
    config_file.write_text(FEED_CONFIG.format(store=(tmp_path / "var").as_posix(), feed=f"{web.url}/feed.xml",
                                              smtp_port=mail_process.port), encoding="utf-8")
    mail_process.pause()
    service = Service(config.load(config_file), config_file)
    service.start(dashboard=False)

    def unalerted() -> set[str]:
        """Posts with the sensitive term that have not fed an alert yet (however the posts group into events)."""
        posts = service.store.search(SearchQuery(limit=1000)).posts
        fed = {post_id for alert in service.alert_state.list_alerts(limit=1000) for post_id in alert["post_ids"]}
        return {p.id for p in posts if "恶臭" in p.title} - fed

    def posts() -> int:
        return service.store.count(SearchQuery())

    def deliveries() -> list[dict[str, Any]]:
        return [d for a in service.alert_state.list_alerts(limit=1000) for d in service.alert_state.deliveries_of(a["id"])]

    try:
        assert _wait_for(lambda: posts() == ALERTS and not unalerted(), 60), "the first crawl alerts on every post"
        # The outbox now holds mail for a server that accepts connections and never answers.
        items.extend(_titles(ALERTS + 1, 100, lambda n: n % 10 == 0))
        published = time.monotonic()
        assert _wait_for(lambda: posts() == ALERTS + 100 and not unalerted(), 25), (posts(), unalerted())
        print(f"100 new posts stored and 10 alerted {time.monotonic() - published:.1f}s after they were published")
        assert mail_process.messages() == []

        mail_process.resume()
        assert _wait_for(lambda: {d["status"] for d in deliveries()} == {"sent"}, 30)
        time.sleep(2)  # two more rounds: any copy would land now
        ids = [m["Message-ID"] for m in mail_process.messages()]
        assert len(ids) == len(deliveries()) and len(set(ids)) == len(ids)
    finally:
        service.stop()
        web.close()


class KillAtAcceptance:
    """Keeps each message; kills `victim` at the `nth` message's acceptance: just before the 250 goes out
    ("before-250"), or at the client's next command once it has the 250 ("after-250")."""

    def __init__(self, nth: int, moment: str) -> None:
        self.nth = nth
        self.moment = moment
        self.victim: int | None = None
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's names
        self.received.append(envelope.original_content or envelope.content)
        if self.moment == "before-250":
            self._kill()
        return "250 Message accepted for delivery"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        self._next_command()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self._next_command()
        return "221 Bye"

    def _next_command(self) -> None:
        if self.moment == "after-250":
            self._kill()

    def _kill(self) -> None:
        if self.victim and len(self.received) == self.nth:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None

    def message_ids(self) -> list[str]:
        return [message_from_bytes(raw, policy=policy.default)["Message-ID"] for raw in self.received]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A data folder whose outbox holds ALERTS pending mails, and the configuration `yuqing run` reads."""
    smtp_port, data = free_port(), tmp_path / "var"
    store, state = EmbeddedStore(data, grams=index_grams), AlertState.for_data_dir(data)
    store.upsert([make_post(n, f"北辰燃料乙醇 第{n}次 恶臭", score=0.9) for n in range(ALERTS)])
    assert len(AlertEngine(make_settings(smtp_port), store, state).evaluate()) == ALERTS
    store.close()
    state.close()
    config_file = tmp_path / "yuqing.toml"
    config_file.write_text(f'[store]\npath = "{data.as_posix()}"\n[smtp]\nport = {smtp_port}\ntimeout = "5s"\n'
                           f'[dashboard]\nport = {free_port()}\n', encoding="utf-8")
    yield config_file, smtp_port


def _run(config_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "yuqing.cli", "run", "--config", str(config_file)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("moment", ["before-250", "after-250"])
def test_a_kill_at_acceptance_repeats_at_most_that_message(outbox: tuple[Path, int], moment: str) -> None:
    config_file, smtp_port = outbox
    handler = KillAtAcceptance(5, moment)
    server = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    server.start()
    try:
        first = _run(config_file)
        handler.victim = first.pid
        output, _ = first.communicate(timeout=90)
        assert first.returncode == -signal.SIGKILL, output
        assert len(handler.received) == 5

        second = _run(config_file)  # its lock file is left by the killed one
        try:
            assert _wait_for(lambda: len(set(handler.message_ids())) == ALERTS, 60), handler.message_ids()
            time.sleep(1)
        finally:
            second.send_signal(signal.SIGINT)
            output, _ = second.communicate(timeout=60)
        assert second.returncode == 0, output
    finally:
        server.stop()

    ids = handler.message_ids()
    fifth = ids[4]
    if moment == "before-250":  # the server kept a message whose 250 never reached yuqing: that one comes again
        assert len(ids) == ALERTS + 1 and ids.count(fifth) == 2 and ids[5] == fifth
    else:  # yuqing had the 250: it was written down before anything else was said
        assert len(ids) == ALERTS
    assert len(set(ids)) == ALERTS
    state = AlertState.for_data_dir(config_file.parent / "var")
    try:
        assert {d["status"] for a in state.recent_alerts(100) for d in state.deliveries_of(a["id"])} == {"sent"}
    finally:
        state.close()
