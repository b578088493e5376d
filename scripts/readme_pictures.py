"""The README's pictures of an alert and a briefing over the demo's story, as the service makes them: the alert's
mail, its page and its draft statement (docs/alert-*.png), and the first page of the day's briefing as a PDF
(docs/report.png).

The story's posts go into a new service's spool as the crawlers write them, published over the last two hours;
the service ingests them (analysis, events), opens the alert and mails it to a local mail sink. Headless Chromium
shows the mail's HTML part as a mail client would; an officer acknowledges the alert on its page, and the page and
its draft are photographed; the alert is later resolved, and the day's briefing is printed to PDF and its first
page turned into an image by pdftoppm (poppler-utils). Run from the project folder:

    .venv/bin/python scripts/readme_pictures.py [--out docs]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import settings as config
from models import now
from reports.period import Period
from reports.render import html, pdf
from yuqing.briefing import briefing
from yuqing.demo.mailsink import MailSink
from yuqing.demo.timeline import COMPANY, TIMELINE, spool_story
from yuqing.search import outlet_names
from yuqing.service import Service

CHROMIUM = "/usr/bin/chromium"
CONFIG = """[store]
path = "{store}"

[[schemes]]
name = "beichen"
title = "{company}"
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


@contextmanager
def story_service(work: Path, smtp_port: int, port: int) -> Iterator[Service]:
    """A service whose store holds the demo's story, published over the last two hours, and its alert."""
    config_file = work / "yuqing.toml"
    config_file.write_text(CONFIG.format(store=(work / "var").as_posix(), company=COMPANY, smtp_port=smtp_port,
                                         port=port), encoding="utf-8")
    service = Service(config.load(config_file), config_file)
    try:
        spool_story(service.spool_dir, now() - timedelta(minutes=TIMELINE[-1].at + 5), "http://127.0.0.1:8001")
        service.process()  # ingest, events, the alert and its mail
        yield service
    finally:
        service.stop()


def alert_pictures(service: Service, mail: MailSink, port: int, out: Path) -> dict:
    from playwright.sync_api import sync_playwright

    (alert,) = service.alert_state.list_alerts(scheme="beichen")
    service.start()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        letter = browser.new_page(viewport={"width": 900, "height": 700})
        letter.set_content(mail.messages()[0].get_body(("html",)).get_content())
        letter.screenshot(path=str(out / "alert-mail.png"), full_page=True)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/alerts/{alert['id']}")
        page.fill("#who", "张三")
        page.fill("#note", "已联系厂方与环保局核实")
        page.click("#act button[value='ack']")
        page.wait_for_url(f"**/alerts/{alert['id']}?done=ack")
        page.screenshot(path=str(out / "alert-page.png"), full_page=True)
        page.locator(".statement").screenshot(path=str(out / "alert-statement.png"))
        browser.close()
    return alert


def briefing_picture(service: Service, alert: dict, work: Path, out: Path) -> str:
    service.alert_state.act(alert["id"], "resolve", "张三", now() + timedelta(minutes=95), "环保局已回应")
    made = briefing(service.store, service.alert_state, Period.of("day", now().date()), now() + timedelta(minutes=100),
                    None, outlet_names(service.settings))
    (work / "report.pdf").write_bytes(pdf(html(made)))
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(work / "report.pdf"),
                    str(out / "report")], check=True)
    return f"{made.period.title} {made.period.label}, {int(made.headline[0].current)} posts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder for the PNG files")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, MailSink(Path(folder) / "mail") as sink:
        work, port = Path(folder), free_port()
        with story_service(work, sink.port, port) as service:
            alert = alert_pictures(service, sink, port, out)
            print(f"{out}: alert {alert['id']} about {alert['event_id']}, {len(sink.received)} mail sent")
            print(f"{out / 'report.png'}: page 1 of {briefing_picture(service, alert, work, out)}")


if __name__ == "__main__":
    main()
