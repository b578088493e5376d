"""`yuqing demo`, as a user runs it (faster): the alert mail lands (the story's, three messages at most), the
dashboard shows the posts, Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from yuqing.demo.timeline import COMPANY, TIMELINE

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _lines(stream, sink: queue.Queue) -> None:  # noqa: ANN001
    for line in stream:
        sink.put(line)


def _stored(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/summary") as response:
        return json.loads(response.read())["counts"]["total"]


def _expect(lines: queue.Queue, marker: str, seconds: float, seen: list[str]) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if marker in line:
            return line
    raise AssertionError(f"no {marker!r} within {seconds}s; output:\n{''.join(seen)}")


def _photograph_pages(port: int, folder: Path) -> None:
    """The overview, the story's event page, a search and the day's briefing, at 1440 and 1024 pixels, as the demo
    shows them once its story is told: the README's pictures (copied from tests/artifacts to docs/)."""
    from playwright.sync_api import sync_playwright

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/summary") as response:
        summary = json.loads(response.read())
    events = summary["events"]
    hot = [k["word"] for k in summary["keywords"]]
    assert hot and COMPANY not in hot, hot  # the watch term is in every post: no hot keyword
    story = next(e for e in events if "恶臭" in e["title"])
    report = folder / "briefing.html"
    done = subprocess.run([sys.executable, "-m", "yuqing.cli", "report", "--day", time.strftime("%Y-%m-%d"),
                           "--out", str(report)], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pages = {"overview": (f"http://127.0.0.1:{port}/", "#events li"),
             "event": (f"http://127.0.0.1:{port}/events/{story['id']}", "#timeline li"),
             "search": (f"http://127.0.0.1:{port}/search?q=北辰&range=all", "#results-list li"),
             "report": (report.as_uri(), "svg")}
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for width in (1440, 1024):
            page = browser.new_page(viewport={"width": width, "height": 900})
            for name, (url, shown) in pages.items():
                page.goto(url)
                page.locator(shown).first.wait_for(timeout=30_000)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} is wider than {width}"
                page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=name != "report")
            page.close()
        browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)")
def test_demo_alerts_and_shows_posts(tmp_path: Path, smtp_port: int) -> None:
    from playwright.sync_api import sync_playwright

    port = smtp_port  # any free port will do for the dashboard
    process = subprocess.Popen(
        [sys.executable, "-m", "yuqing.cli", "demo", "--port", str(port), "--speed", "10"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        search_line = _expect(lines, "search:", 60, seen)
        assert "search 北辰   (from this folder" in search_line
        assert f"--config {tmp_path.resolve() / 'var' / 'demo' / 'yuqing.toml'}" in search_line
        _expect(lines, "Press Ctrl-C to stop", 10, seen)
        mail_line = _expect(lines, "alert mail:", 90, seen)
        assert "北辰燃料乙醇" in mail_line
        assert any(word in mail_line for word in ("恶臭", "异味", "发黑")), "the first alert is about the incident"
        assert list((tmp_path / "var" / "mail").glob("*.eml"))

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("北辰燃料乙醇厂区附近恶臭难忍").first.wait_for(timeout=30_000)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "demo-dashboard.png"), full_page=True)
            browser.close()

        # The whole story in the store, and a round after: its mail is one alert's, three messages at most.
        deadline = time.monotonic() + 90
        while _stored(port) < len(TIMELINE) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _stored(port) == len(TIMELINE)
        time.sleep(5)
        mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
                 for p in sorted((tmp_path / "var" / "mail").glob("*.eml"))]
        assert 1 <= len(mails) <= 3, [m["Subject"] for m in mails]
        threads = {m["In-Reply-To"] or m["Message-ID"] for m in mails}
        assert len(threads) == 1, [m["Subject"] for m in mails]  # one story, one thread
        text = mails[0].get_body(("plain",)).get_content()
        # The outlet, not the source's id (which post opens the alert depends on which crawl ran first).
        assert ("来源：白桦论坛（个人，论坛）" in text or "来源：白桦晚报（地方媒体，新闻网站）" in text
                or "来源：白桦新闻网（地方媒体，新闻网站）" in text) and "baihua-" not in text, text

        _photograph_pages(port, tmp_path)

        # Searched as the demo said, from the folder it runs in, while it runs: the forum post with its replies.
        done = subprocess.run([sys.executable, "-m", "yuqing.cli", "search", "偷排", "--format", "json"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        [post] = json.loads(done.stdout)["posts"]
        replies = {p.slug: p.replies for p in TIMELINE}
        assert post["outlet"] == "白桦论坛" and post["metrics"]["comments"] == replies["t4"] > 0
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    out = "".join(seen) + "".join(iter(lambda: lines.get(timeout=5) if not lines.empty() else "", ""))
    assert process.returncode == 0, out
    assert "stopped." in out
