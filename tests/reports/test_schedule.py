"""Scheduled briefings go out by mail once per period, through a real SMTP server, whatever restarts happen."""

from __future__ import annotations

import shutil
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest

import settings as config
from alerts.state import AlertState
from store.base import Store
from tests.reports.conftest import at
from yuqing.briefing import RETRY_AFTER, Briefings
from yuqing.demo.mailsink import MailSink


def _settings(folder: Path, port: int, **reports: object) -> config.Settings:
    return config.Settings(
        schemes=[{"name": "beichen", "keywords": ["北辰燃料乙醇"]}], store={"path": str(folder / "var")},
        smtp={"host": "127.0.0.1", "port": port, "sender": "yuqing@example.com"},
        reports={"daily": "08:00", "weekly": "wed 08:30", "recipients": ["leader@example.com"], **reports})


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed (make system-deps)")
def test_each_briefing_is_mailed_once_across_restarts(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    store, state = filled
    with MailSink(tmp_path / "mail") as sink:
        settings = _settings(tmp_path, sink.port)
        briefings = Briefings(settings, store, state)
        assert briefings.check(at(13, 7, 59)) == []  # Wednesday the 13th, before eight
        assert [p.key for p in briefings.check(at(13, 8))] == ["day:2024-03-12"]
        assert briefings.check(at(13, 8, 1)) == []
        restarted = Briefings(settings, store, state)
        assert restarted.check(at(13, 8, 2)) == []
        assert [p.key for p in restarted.check(at(13, 8, 30))] == ["week:2024-03-04"]
        assert Briefings(settings, store, state).check(at(13, 23)) == []
        day, week = sink.messages()
    assert day["Subject"] == "舆情日报 2024年3月12日" and day["To"] == "leader@example.com"
    assert "信息 5；负面 3；负面占比 60.0%；事件 2；预警 2" in day.get_body(("plain",)).get_content()
    (attachment,) = day.iter_attachments()
    assert attachment.get_filename() == "yuqing-day-2024-03-12.pdf"
    assert attachment.get_content().startswith(b"%PDF-")
    assert week["Subject"] == "舆情周报 2024年3月4日—3月10日"
    assert day["Message-ID"] != week["Message-ID"]


def test_a_briefing_due_while_the_service_was_down_goes_out_at_start(filled: tuple[Store, AlertState],
                                                                     tmp_path: Path) -> None:
    store, state = filled
    with MailSink(tmp_path / "mail") as sink:
        briefings = Briefings(_settings(tmp_path, sink.port, weekly="", format="html"), store, state)
        assert [p.key for p in briefings.check(at(13, 17))] == ["day:2024-03-12"]
        assert len(sink.received) == 1


def test_a_refused_mail_is_tried_again_later_and_not_counted_as_sent(filled: tuple[Store, AlertState],
                                                                     tmp_path: Path) -> None:
    store, state = filled
    port = _closed_port()
    briefings = Briefings(_settings(tmp_path, port, weekly="", format="html"), store, state)
    assert briefings.check(at(13, 8)) == []
    assert briefings.sent() == {}
    with MailSink(tmp_path / "mail", port=port) as sink:
        assert briefings.check(at(13, 8) + RETRY_AFTER / 2) == []  # waits before trying again
        assert [p.key for p in briefings.check(at(13, 8) + RETRY_AFTER)] == ["day:2024-03-12"]
        assert len(sink.received) == 1
    assert list(briefings.sent()) == ["day:2024-03-12"]


def test_without_chromium_the_briefing_goes_as_html(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    store, state = filled
    with MailSink(tmp_path / "mail") as sink:
        settings = _settings(tmp_path, sink.port, weekly="", chromium=str(tmp_path / "no-chromium"))
        assert len(Briefings(settings, store, state).check(at(13, 8))) == 1
        (mail,) = sink.messages()
    (attachment,) = mail.iter_attachments()
    assert attachment.get_filename() == "yuqing-day-2024-03-12.html"
    assert "<title>舆情日报 · 2024年3月12日</title>" in attachment.get_content()
    assert "未能生成 PDF" in mail.get_body(("plain",)).get_content()


def test_a_damaged_record_is_read_as_nothing_sent(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    store, state = filled
    briefings = Briefings(_settings(tmp_path, _closed_port(), format="html"), store, state)
    briefings.record.write_bytes(b'{"day:2024-03-12": "2024-03-1')  # cut short by a crash
    assert [p.key for p in briefings.due(at(13, 9))] == ["day:2024-03-12", "week:2024-03-04"]


def test_schedule_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="give a weekday and a time"):
        config.Settings(reports={"weekly": "monday 8:30", "recipients": ["a@example.com"]})
    with pytest.raises(ValueError, match="give a time of day"):
        config.Settings(reports={"daily": "25:00", "recipients": ["a@example.com"]})
    with pytest.raises(ValueError, match="nobody receives them"):
        config.Settings(reports={"daily": "08:00"})
    with pytest.raises(ValueError, match=r"\[reports\] scheme 'x' is not defined"):
        config.Settings(reports={"scheme": "x"})
    assert config.Settings(reports={"weekly": "Fri 17:05", "recipients": ["a@example.com"]}).reports.when(
        "week") == (4, 17, 5)


def test_the_running_service_mails_the_briefing_due(tmp_path: Path) -> None:
    from models import now
    from yuqing.service import Service

    with MailSink(tmp_path / "mail") as sink:
        settings = _settings(tmp_path, sink.port, daily="00:00", weekly="", format="html")
        service = Service(settings, None)
        try:
            service.start(dashboard=False)
            deadline = time.monotonic() + 30
            while not sink.received and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            service.stop()
        (mail,) = sink.messages()
    yesterday = (now() - timedelta(days=1)).date()
    assert mail["Subject"] == f"舆情日报 {yesterday.year}年{yesterday.month}月{yesterday.day}日"
    assert list(Briefings(settings, None, None).sent()) == [f"day:{yesterday.isoformat()}"]  # type: ignore[arg-type]


def test_a_store_that_fails_holds_the_briefing_for_later(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    from store import open_store

    _, state = filled
    down = config.Store(backend="elasticsearch", url=[f"http://127.0.0.1:{_closed_port()}"], request_timeout=1,
                        path=tmp_path / "var")
    with MailSink(tmp_path / "mail") as sink, open_store(down, readonly=True) as store:
        briefings = Briefings(_settings(tmp_path, sink.port, weekly="", format="html"), store, state)
        assert briefings.check(at(13, 8)) == []
        assert briefings.sent() == {} and sink.received == []
