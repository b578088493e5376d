"""End-to-end fixtures: the demo's own sources (all posts released at once) and a real SMTP server."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

import settings as config
from yuqing.demo.mailsink import MailSink
from yuqing.demo.site import DemoSite
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
[store]
path = "{store}"

[[schemes]]
name = "beichen"
keywords = ["北辰燃料乙醇", "北辰乙醇"]

[[sources]]
name = "news"
type = "rss"
url = "{site}/news/feed.xml"
interval = "1h"
platform = "news"
tier = "local_media"
download_delay = 0

[[sources]]
name = "forum"
type = "site"
url = "{site}/forum/"
interval = "1h"
platform = "forum"
tier = "individual"
link_selector = "ul.threads a.title"
title_selector = "h1.title"
content_selector = "div.post-body"
time_selector = "span.time"
author_selector = "span.author"
max_pages = 1
download_delay = 0

[alerts]
recipients = ["oncall@example.com"]
retry_base = "5s"
retry_max = "1m"

[[alerts.rules]]
name = "sensitive-terms"
type = "keyword"
scheme = "beichen"
terms = ["恶臭"]
severity = "high"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout = "3s"
"""


@pytest.fixture
def site() -> Iterator[DemoSite]:
    # A speed this high releases the whole timeline at once.
    demo = DemoSite(speed=1_000_000).start()
    yield demo
    demo.stop()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mail(tmp_path: Path, smtp_port: int) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=smtp_port) as sink:
        yield sink


@pytest.fixture
def config_file(tmp_path: Path, site: DemoSite, smtp_port: int) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(CONFIG.format(store=(tmp_path / "var").as_posix(), site=site.base_url, smtp_port=smtp_port),
                    encoding="utf-8")
    return path


@pytest.fixture
def settings(config_file: Path) -> config.Settings:
    return config.load(config_file)


class MailProcess:
    """The mail server as a process: pause() freezes it the way a hung server looks from outside (connections
    are accepted by the kernel, then nothing answers); resume() lets it go on."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.process = subprocess.Popen([sys.executable, "-m", "tests.e2e.mailserver", str(folder), str(port)],
                                        cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
                for p in sorted(self.folder.glob("*.eml"))]

    def stop(self) -> None:
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def mail_process(tmp_path: Path, smtp_port: int) -> Iterator[MailProcess]:
    server = MailProcess(tmp_path / "mail", smtp_port)
    yield server
    server.stop()
