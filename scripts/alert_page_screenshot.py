"""A screenshot of the dashboard's alert page over the demo's story, as the service makes it.

The demo's sources, a mail sink and the service run in a temporary folder (the story told 20 times faster)
until the story's last post is in; an officer acknowledges the complaint's alert on its page; headless
Chromium then photographs the page. Run from the project folder:

    .venv/bin/python scripts/alert_page_screenshot.py [--out tests/artifacts/alert-page.png]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

import settings as config
from models import now
from yuqing.demo.mailsink import MailSink
from yuqing.demo.runner import CONFIG
from yuqing.demo.site import DemoSite
from yuqing.demo.timeline import COMPANY, TIMELINE
from yuqing.service import Service

CHROMIUM = "/usr/bin/chromium"
SPEED = 20.0
LAST_POST = TIMELINE[-1].title


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, seconds: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    raise SystemExit(f"alert_page_screenshot: no {what} within {seconds:.0f}s")


def complaint_alert(service: Service) -> dict | None:
    """The alert about the complaint, once the story's last post is stored: the one fed by the most posts."""
    from store.base import SearchQuery

    if not any(p.title == LAST_POST for p in service.store.search(SearchQuery(limit=50)).posts):
        return None
    alerts = [a for a in service.alert_state.list_alerts(scheme="beichen") if "恶臭" in a["title"]]
    return max(alerts, key=lambda a: len(a["post_ids"]), default=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tests/artifacts/alert-page.png"))
    out = parser.parse_args().out
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        site, sink, port = DemoSite(SPEED).start(), MailSink(work / "mail").start(), free_port()
        config_file = work / "yuqing.toml"
        config_file.write_text(CONFIG.format(store=(work / "var").as_posix(), company=COMPANY, site=site.base_url,
                                             interval=5, smtp_port=sink.port, port=port), encoding="utf-8")
        service = Service(config.load(config_file), config_file)
        try:
            service.start()
            started = now()
            alert = wait_for(lambda: complaint_alert(service), 120, "alert about the complaint")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1366, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/alerts/{alert['id']}")
                page.fill("#who", "张三")
                page.fill("#note", "已联系厂方与环保局核实")
                page.click("#act button[value='ack']")
                page.wait_for_url(f"**/alerts/{alert['id']}?done=ack")
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
                browser.close()
            print(f"{out}: alert {alert['id']} ({len(alert['post_ids'])} posts), "
                  f"{(now() - started).total_seconds():.0f}s after the start")
        finally:
            service.stop()
            sink.stop()
            site.stop()


if __name__ == "__main__":
    main()
