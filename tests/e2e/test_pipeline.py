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
        _wait_for(lambda: len(mail.received) >= 1)
        [alert] = service.alert_state.list_alerts()
    finally:
        service.stop()

    # The complaint and its repost are one story: one alert, one mail, both posts in it.
    [message] = mail.messages()
    assert COMPLAINTS[0].title in message["Subject"] and message["Subject"].startswith("【高】舆情预警｜")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for complaint in COMPLAINTS:
        link = f"{site.base_url}/forum/thread/{complaint.slug}.html"
        assert link in text and f'href="{link}"' in html
    assert "恶臭" in text
    complaints = {p.id for p in posts if p.title in {c.title for c in COMPLAINTS}}
    assert complaints <= set(alert["post_ids"]) and alert["event_id"]  # with the rest of the story

    # Restart over the same store and state, crawl the same pages again.
    service = Service(config.load(config_file), config_file)
    try:
        _crawl_all(service)
        service.process()
        assert len(_all_posts(service)) == len(TIMELINE)
    finally:
        service.stop()
    time.sleep(0.5)
    assert len(mail.received) == 1, "a restart must not send an alert twice"


def test_mail_server_down_then_up_delivers_exactly_once(settings: config.Settings, config_file: Path,
                                                        site: DemoSite, tmp_path: Path, smtp_port: int) -> None:
    service = Service(settings, config_file)
    try:
        _crawl_all(service)  # evaluates the rules and tries to deliver: nothing listens on smtp_port yet
        [pending] = service.alert_state.recent_alerts(10)
        assert pending["delivery"] == "pending"
        with MailSink(tmp_path / "late-mail", port=smtp_port) as late:
            service.engine.deliver()  # too early: the retry is not due yet
            assert late.received == []
            service.engine.deliver(now() + timedelta(seconds=6))
            _wait_for(lambda: len(late.received) >= 1)
            service.engine.deliver(now() + timedelta(minutes=30))
            service.engine.run_once()
            time.sleep(0.5)
            assert len(late.received) == 1
    finally:
        service.stop()
