"""The README's pictures of an alert over the demo's story, as the service makes it: the mail, the alert page
and its draft statement.

The story's posts go into a new service's spool as the crawlers write them, published over the last two hours;
the service ingests them (analysis, events), opens the alert and mails it to a local mail sink. Headless Chromium
shows the mail's HTML part as a mail client would; an officer then acknowledges the alert on its page, and the
page and its draft are photographed. Run from the project folder:

    .venv/bin/python scripts/alert_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
from datetime import timedelta
from pathlib import Path

import settings as config
from models import now
from yuqing.demo.mailsink import MailSink
from yuqing.demo.timeline import COMPANY, TIMELINE, story_items
from yuqing.service import Service

CHROMIUM = "/usr/bin/chromium"
CONFIG = """[store]
path = "{store}"

[[schemes]]
name = "beichen"
keywords = ["{company}", "北辰乙醇"]
exclude = ["招聘"]

[official]
bodies = ["白桦市生态环境局"]

[alerts]
recipients = ["oncall@example.com"]
contact = "党委宣传部值班室 0000-0000000"

[[alerts.rules]]
name = "sensitive-terms"
title = "敏感词"
type = "keyword"
scheme = "beichen"
terms = ["恶臭", "偷排", "爆炸", "泄漏", "死鱼"]
severity = "high"

[[alerts.rules]]
name = "negative-post"
title = "负面舆情"
type = "negative"
scheme = "beichen"
threshold = 0.3
severity = "medium"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "yuqing-demo@localhost"

[dashboard]
host = "127.0.0.1"
port = {port}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the three PNG files")
    out = parser.parse_args().out
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, MailSink(Path(folder) / "mail") as sink:
        work, port = Path(folder), free_port()
        config_file = work / "yuqing.toml"
        config_file.write_text(CONFIG.format(store=(work / "var").as_posix(), company=COMPANY, smtp_port=sink.port,
                                             port=port), encoding="utf-8")
        service = Service(config.load(config_file), config_file)
        try:
            start = now() - timedelta(minutes=TIMELINE[-1].at + 5)
            service.spool_dir.mkdir(parents=True, exist_ok=True)
            (service.spool_dir / "demo-story.jsonl").write_text(
                "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in story_items(start, "http://127.0.0.1:8001")),
                encoding="utf-8")
            service.process()  # ingest, events, the alert and its mail
            (alert,) = service.alert_state.list_alerts(scheme="beichen")
            service.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                out.mkdir(parents=True, exist_ok=True)
                mail = browser.new_page(viewport={"width": 900, "height": 700})
                html = sink.messages()[0].get_body(("html",))
                mail.set_content(html.get_content())
                mail.screenshot(path=str(out / "alert-mail.png"), full_page=True)
                page = browser.new_page(viewport={"width": 1366, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/alerts/{alert['id']}")
                page.fill("#who", "张三")
                page.fill("#note", "已联系厂方与环保局核实")
                page.click("#act button[value='ack']")
                page.wait_for_url(f"**/alerts/{alert['id']}?done=ack")
                page.screenshot(path=str(out / "alert-page.png"), full_page=True)
                page.locator(".statement").screenshot(path=str(out / "alert-statement.png"))
                browser.close()
            print(f"{out}: alert {alert['id']} about {alert['event_id']}, {len(sink.received)} mail sent")
        finally:
            service.stop()


if __name__ == "__main__":
    main()
