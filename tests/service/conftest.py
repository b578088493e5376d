"""What the command-line tests of this folder share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

import settings as config
from models import now
from tests.e2e.conftest import free_port
from yuqing.demo.mailsink import MailSink
from yuqing.demo.timeline import COMPANY, TIMELINE, spool_story
from yuqing.service import Service

# A store under ./var, one source that is never crawled by itself, free ports for mail and the dashboard.
IDLE_CONFIG = """
[store]
path = "var"

[[sources]]
name = "news"
type = "rss"
url = "http://127.0.0.1:9/feed.xml"
enabled = false

[smtp]
port = {smtp_port}

[dashboard]
port = {port}
"""


def write_idle_config(folder: Path) -> Path:
    path = folder / "yuqing.toml"
    path.write_text(IDLE_CONFIG.format(smtp_port=free_port(), port=free_port()), encoding="utf-8")
    return path


# The demo's story, its scheme, the bureau as an official body, one keyword rule, a mail sink and the dashboard.
STORY_CONFIG = """
[store]
path = "var"

[[schemes]]
name = "beichen"
keywords = ["{company}"]

[official]
bodies = ["白桦市生态环境局"]

[alerts]
recipients = ["oncall@example.com"]
contact = "党委宣传部值班室 0000-0000000"

[[alerts.rules]]
name = "sensitive-terms"
type = "keyword"
scheme = "beichen"
terms = ["恶臭", "死鱼"]
severity = "high"

[smtp]
port = {smtp_port}

[dashboard]
port = {port}
"""


@dataclass
class StoryService:
    service: Service
    mail: MailSink
    port: int


@pytest.fixture
def story_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StoryService]:
    """A running service whose store holds the demo's story, published over the last two hours, and its alert."""
    monkeypatch.chdir(tmp_path)
    port = free_port()
    with MailSink(tmp_path / "mail") as sink:
        (tmp_path / "yuqing.toml").write_text(STORY_CONFIG.format(company=COMPANY, smtp_port=sink.port, port=port),
                                              encoding="utf-8")
        service = Service(config.load(tmp_path / "yuqing.toml"), tmp_path / "yuqing.toml")
        try:
            spool_story(service.spool_dir, now() - timedelta(minutes=TIMELINE[-1].at + 5), "http://127.0.0.1:8001")
            service.process()
            service.start()
            yield StoryService(service, sink, port)
        finally:
            service.stop()
