"""The README's picture of a briefing: the first page of today's 舆情日报 over the demo's story, as PDF printed by
headless Chromium and turned into an image by pdftoppm (poppler-utils).

The story's posts go into a new service's spool, published over the last two hours; the service ingests them
(analysis, events) and opens the alert, which an officer acknowledges and later resolves. Run from the project
folder:

    .venv/bin/python scripts/report_screenshot.py [--out docs/report.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import settings as config
from models import now
from reports.period import Period
from reports.render import html, pdf
from yuqing.briefing import briefing
from yuqing.demo.timeline import COMPANY, TIMELINE, story_items
from yuqing.service import Service

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

[[alerts.rules]]
name = "sensitive-terms"
title = "敏感词"
type = "keyword"
scheme = "beichen"
terms = ["恶臭", "偷排", "爆炸", "泄漏", "死鱼"]
severity = "high"

[smtp]
port = 9
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/report.png"), help="the PNG file to write")
    out = parser.parse_args().out
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config_file = work / "yuqing.toml"
        config_file.write_text(CONFIG.format(store=(work / "var").as_posix(), company=COMPANY), encoding="utf-8")
        service = Service(config.load(config_file), config_file)
        try:
            start = now() - timedelta(minutes=TIMELINE[-1].at + 5)
            service.spool_dir.mkdir(parents=True, exist_ok=True)
            (service.spool_dir / "demo-story.jsonl").write_text(
                "".join(json.dumps(item, ensure_ascii=False) + "\n"
                        for item in story_items(start, "http://127.0.0.1:8001")), encoding="utf-8")
            service.process()  # ingest, events, the alert (its mail stays in the outbox: no server here)
            for alert in service.alert_state.list_alerts():
                service.alert_state.act(alert["id"], "ack", "张三", now() + timedelta(minutes=12), "已联系厂方核实")
                service.alert_state.act(alert["id"], "resolve", "张三", now() + timedelta(minutes=95), "环保局已回应")
            made = briefing(service.store, service.alert_state, Period.of("day", start.date()),
                            now() + timedelta(minutes=100), None)
            printed = pdf(html(made))
        finally:
            service.stop()
        (work / "report.pdf").write_bytes(printed)
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(work / "report.pdf"),
                        str(out.with_suffix(""))], check=True)
    print(f"{out}: page 1 of {made.period.title} {made.period.label}, {int(made.headline[0].current)} posts")


if __name__ == "__main__":
    main()
