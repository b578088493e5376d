"""The outbox against real SMTP servers that are slow, hung, or watching the outbox while they talk."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.engine import AlertEngine
from alerts.state import AlertState
from models import now
from store.embedded import EmbeddedStore
from tests.alerts.conftest import make_post, make_settings
from yuqing.demo.mailsink import MailSink


class Watching:
    """Keeps each message with the connection it came over; at each MAIL FROM notes how many deliveries the
    outbox has marked sent by then, and can take its time over each DATA."""

    def __init__(self, db: Path, data_seconds: float = 0.0) -> None:
        self.db = db
        self.data_seconds = data_seconds
        self.received: list[tuple[Any, bytes]] = []
        self.sent_at_mail: list[tuple[int, int]] = []  # (messages accepted so far, deliveries marked sent)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802 - aiosmtpd
                          options: list[str]) -> str:
        with sqlite3.connect(self.db) as db:
            [(sent,)] = db.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'")
        self.sent_at_mail.append((len(self.received), sent))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.data_seconds)
        self.received.append((session.peer, envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def alerts(store: EmbeddedStore, engine: AlertEngine) -> list[int]:
    store.upsert([make_post(n, f"北辰燃料乙醇 第{n}次 恶臭", score=0.9) for n in range(6)])
    return engine.evaluate()


def _serve(handler: Watching, port: int) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def test_a_round_is_one_connection_and_each_send_is_recorded_before_the_next(
        engine: AlertEngine, alerts: list[int], tmp_path: Path, smtp_port: int) -> None:
    handler = Watching(tmp_path / "alerts.db")
    server = _serve(handler, smtp_port)
    try:
        assert engine.deliver() == len(alerts) == 6
    finally:
        server.stop()
    assert len({peer for peer, _ in handler.received}) == 1
    assert handler.sent_at_mail == [(n, n) for n in range(6)]


def test_past_the_deadline_the_rest_waits_untried(engine: AlertEngine, state: AlertState, alerts: list[int],
                                                  tmp_path: Path, smtp_port: int) -> None:
    server = _serve(Watching(tmp_path / "alerts.db", data_seconds=0.4), smtp_port)
    try:
        started = time.monotonic()
        sent = engine.deliver(deadline=time.monotonic() + 1.0)
        assert 1 <= sent < 6 and time.monotonic() - started < 2.5
        rows = [row for alert_id in alerts for row in state.deliveries_of(alert_id)]
        waiting = [row for row in rows if row["status"] == "pending"]
        assert len(waiting) == 6 - sent and {row["attempts"] for row in waiting} == {0}
        assert {row["last_error"] for row in waiting} == {None}
        assert engine.deliver() == 6 - sent  # still due: the next round sends them
    finally:
        server.stop()


@pytest.fixture
def hung_server(smtp_port: int) -> Iterator[None]:
    """Listens and never answers: the kernel completes each connection, nobody says hello."""
    with socket.create_server(("127.0.0.1", smtp_port), backlog=50):
        yield


def test_a_hung_server_costs_one_timeout_per_round(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                                   hung_server: None) -> None:
    engine = AlertEngine(make_settings(smtp_port, retry_base=10), store, state)
    engine.settings.smtp.timeout = 0.5
    store.upsert([make_post(n, f"北辰燃料乙醇 第{n}次 恶臭", score=0.9) for n in range(6)])
    alert_ids = engine.evaluate()
    started = time.monotonic()
    assert engine.deliver() == 0
    assert time.monotonic() - started < 1.5  # one timeout, not six
    rows = [row for alert_id in alert_ids for row in state.deliveries_of(alert_id)]
    assert {(row["status"], row["attempts"]) for row in rows} == {("pending", 1)}
    assert all("email channel down" in row["last_error"] and "timed out" in row["last_error"] for row in rows)
    assert engine.deliver(now() + timedelta(seconds=5)) == 0 and time.monotonic() - started < 1.5  # backing off


def test_message_id_is_stable_per_alert_and_new_for_a_new_state(store: EmbeddedStore, tmp_path: Path,
                                                                smtp_port: int, mail: MailSink) -> None:
    store.upsert([make_post(1, "北辰燃料乙醇 恶臭", score=0.9)])
    for folder in ("first", "started-afresh"):
        state = AlertState.for_data_dir(tmp_path / folder)
        engine = AlertEngine(make_settings(smtp_port), store, state)
        assert len(engine.evaluate()) == 1 and engine.deliver() == 1
        if folder == "first":  # as if the sent mark had been lost: the mail goes again
            with sqlite3.connect(tmp_path / folder / "alerts.db") as db:
                db.execute("UPDATE deliveries SET status = 'pending'")
            assert engine.deliver() == 1
        state.close()
    deadline = time.monotonic() + 5
    while len(mail.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first, again, afresh = [m["Message-ID"] for m in mail.messages()]
    assert first == again and first.startswith("<yuqing-alert-1.")
    # Both alerts are number 1 of their state; a mail system must not take the second for a copy of the first.
    assert afresh != first and afresh.startswith("<yuqing-alert-1.")


def test_rounds_asked_for_at_once_send_each_mail_once(engine: AlertEngine, alerts: list[int], tmp_path: Path,
                                                       smtp_port: int) -> None:
    # The service's first ingest asks for a round while the courier runs its own: both read the same due rows.
    from yuqing.service import Courier

    handler = Watching(tmp_path / "alerts.db", data_seconds=0.1)
    server = _serve(handler, smtp_port)
    courier = Courier(engine, every=60, deadline=30)
    try:
        rounds = [threading.Thread(target=courier.round) for _ in range(3)]
        for thread in rounds:
            thread.start()
        for thread in rounds:
            thread.join()
    finally:
        server.stop()
    assert len(handler.received) == len(alerts) == 6
