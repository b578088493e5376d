"""`yuqing run`, `yuqing reindex`, `yuqing crawl` and `scrapy crawl`, as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CONFIG, free_port
from yuqing.demo.mailsink import MailSink
from yuqing.demo.site import DemoSite

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, MailSink, int, DemoSite]]:
    site = DemoSite(speed=1_000_000).start()
    sink = MailSink(tmp_path / "mail").start()
    port = free_port()
    config = tmp_path / "yuqing.toml"
    text = CONFIG.format(store="var", site=site.base_url, smtp_port=sink.port)
    config.write_text(text + f'\n[dashboard]\nport = {port}\n', encoding="utf-8")
    yield config, sink, port, site
    sink.stop()
    site.stop()


def yuqing(*args: str, cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "yuqing.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, **kwargs)  # type: ignore[call-overload]


def test_run_crawls_alerts_serves_and_stops_on_ctrl_c(setup: tuple[Path, MailSink, int, DemoSite]) -> None:
    config, sink, port, _ = setup
    # yuqing.toml in the working directory is the default configuration.
    process = subprocess.Popen([sys.executable, "-m", "yuqing.cli", "run"], cwd=config.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not sink.received and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # a few more rounds: a second mail about the same story would land now
        assert len(sink.received) == 1, "the two complaints are one story: one alert, one mail"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/summary") as response:
            assert b'"total":10' in response.read().replace(b" ", b"")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=%E6%81%B6%E8%87%AD") as response:
            assert "北辰燃料乙醇厂区附近恶臭难忍" in response.read().decode("utf-8")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert (config.parent / "var" / "posts.db").exists()


def test_crawl_then_reindex_then_search(setup: tuple[Path, MailSink, int, DemoSite]) -> None:
    config, sink, _, _ = setup
    done = yuqing("crawl", "forum", "--config", str(config), cwd=config.parent)
    assert done.returncode == 0 and "forum: 5 items" in done.stdout, done.stderr
    done = yuqing("reindex", "--config", str(config), cwd=config.parent)
    assert done.returncode == 0 and "reindexed 5 posts" in done.stdout, done.stderr
    done = yuqing("search", "恶臭", "--format", "json", "--config", str(config), cwd=config.parent)
    assert done.returncode == 0 and '"total": 2' in done.stdout


def test_missing_config_for_run_is_a_clear_error(tmp_path: Path) -> None:
    done = yuqing("run", cwd=tmp_path, env={**os.environ, "YUQING_CONFIG": ""})
    assert done.returncode == 2 and "yuqing.toml: no such file" in done.stderr and "Traceback" not in done.stderr


def test_scrapy_crawl_works_with_the_same_settings(setup: tuple[Path, MailSink, int, DemoSite], tmp_path: Path) -> None:
    config, _, _, _ = setup
    spool = tmp_path / "spool"
    done = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "rss", "-a", "source=news", "-a", f"config={config}",
                           "-s", f"YUQING_SPOOL_DIR={spool}", "-s", "LOG_LEVEL=WARNING"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [spooled] = list(spool.glob("news-*.jsonl"))
    assert len(spooled.read_text(encoding="utf-8").splitlines()) == 5
