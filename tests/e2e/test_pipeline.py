"""The real pipeline: local HTTP source → Scrapy crawl (subprocess) → analysis → store → alert → SMTP."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import settings as config
from store.base import SearchQuery
from yuqing.demo.mailsink import MailSink
from yuqing.demo.site import DemoSite
from yuqing.demo.timeline import TIMELINE
from models import now
from yuqing.service import Service

COMPLAINTS = [p for p in TIMELINE if "恶臭" in p.title + p.body]


def _crawl_all(service: Service) -> None:
    for source in service.settings.sources:
        outcome = service.crawl(source.name)
        assert outcome.ok, outcome.message


def _wait_for(condition, seconds: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


def _all_posts(service: Service):  # noqa: ANN202
    return service.store.search(SearchQuery(limit=1000)).posts


def test_crawl_to_mail_then_restart_repeats_nothing(settings: config.Settings, config_file: Path,
                                                    site: DemoSite, mail: MailSink) -> None:
    service = Service(settings, config_file)
    try:
        _crawl_all(service)
        posts = _all_posts(service)
        assert len(posts) == len(TIMELINE)
        assert len({p.id for p in posts}) == len(posts)
        assert {p.title for p in posts} == {p.title for p in TIMELINE}
        _wait_for(lambda: len(mail.received) >= len(COMPLAINTS))
    finally:
        service.stop()

    messages = mail.messages()
    assert len(messages) == len(COMPLAINTS)
    for complaint in COMPLAINTS:
        matching = [m for m in messages if complaint.title in m["Subject"]]
        assert len(matching) == 1, [m["Subject"] for m in messages]
        text = matching[0].get_body(("plain",)).get_content()
        html = matching[0].get_body(("html",)).get_content()
        link = f"{site.base_url}/forum/thread/{complaint.slug}.html"
        assert link in text and f'href="{link}"' in html
        assert "恶臭" in text

    # Restart over the same store and state, crawl the same pages again.
    service = Service(config.load(config_file), config_file)
    try:
        _crawl_all(service)
        service.process()
        assert len(_all_posts(service)) == len(TIMELINE)
    finally:
        service.stop()
    time.sleep(0.5)
    assert len(mail.received) == len(COMPLAINTS), "a restart must not send an alert twice"


def test_mail_server_down_then_up_delivers_exactly_once(settings: config.Settings, config_file: Path,
                                                        site: DemoSite, tmp_path: Path, smtp_port: int) -> None:
    service = Service(settings, config_file)
    try:
        _crawl_all(service)  # evaluates the rules and tries to deliver: nothing listens on smtp_port yet
        pending = service.alert_state.recent_alerts(10)
        assert len(pending) == len(COMPLAINTS)
        with MailSink(tmp_path / "late-mail", port=smtp_port) as late:
            service.engine.deliver()  # too early: the retry is not due yet
            assert late.received == []
            service.engine.deliver(now() + timedelta(seconds=6))
            _wait_for(lambda: len(late.received) >= len(COMPLAINTS))
            service.engine.deliver(now() + timedelta(minutes=30))
            service.engine.run_once()
            time.sleep(0.5)
            assert len(late.received) == len(COMPLAINTS)
    finally:
        service.stop()
