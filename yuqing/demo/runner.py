"""`yuqing demo`: start the demo sources, the mail sink and the service; report what lands; stop on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from email import message_from_bytes, policy
from pathlib import Path

import settings as config
from dashboards.web.app import ListenError
from yuqing.demo import demo_config
from yuqing.demo.mailsink import MailSink
from yuqing.demo.site import DemoSite
from yuqing.demo.timeline import COMPANY
from yuqing.lock import StoreLock
from yuqing.service import Service

CONFIG = """# Written by `yuqing demo` for this run only.
[store]
path = "{store}"

[[schemes]]
name = "beichen"
title = "北辰燃料乙醇"
keywords = ["{company}", "北辰乙醇"]
exclude = ["招聘"]

# The bureau's answer is its statement on the story, not one more complaint.
[official]
bodies = ["白桦市生态环境局"]

[[sources]]
name = "baihua-news"
display_name = "白桦新闻网"
type = "rss"
url = "{site}/news/feed.xml"
interval = "{interval}s"
platform = "news"
tier = "local_media"
download_delay = 0.1

[[sources]]
name = "baihua-forum"
display_name = "白桦论坛"
type = "site"
url = "{site}/forum/"
interval = "{interval}s"
platform = "forum"
tier = "individual"
link_selector = "ul.threads a.title"
title_selector = "h1.title"
content_selector = "div.post-body"
time_selector = "span.time"
author_selector = "span.author"
replies_selector = "span.replies"
max_pages = 1
download_delay = 0.1

[alerts]
recipients = ["oncall@example.com"]
admins = ["it@example.com"]
evaluate_every = "60s"
retry_base = "5s"
dashboard_url = "http://127.0.0.1:{port}/"

[[alerts.rules]]
name = "sensitive-terms"
title = "敏感词"
type = "keyword"
scheme = "beichen"
terms = ["恶臭", "偷排", "爆炸", "泄漏", "死鱼"]
exclude = ["演练", "演习"]
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
refresh = "5s"
"""


def search_hint(var: Path) -> str:
    """How to search this demo's store: plainly from the folder it runs in (unless a yuqing.toml there would
    be read instead), with --config from anywhere."""
    beside = Path(sys.executable).parent / "yuqing"  # a virtualenv's, when `yuqing` is not on the PATH
    command = "yuqing" if shutil.which("yuqing") or not beside.exists() else os.path.relpath(beside)
    anywhere = f"{command} search 北辰 --config {demo_config(var).resolve()}"
    if Path(config.DEFAULT_CONFIG).exists():
        return anywhere
    return f"{command} search 北辰   (from this folder; from anywhere: {anywhere})"


def run_demo(var: Path, dashboard_port: int = 8000, speed: float = 1.0) -> None:
    config_file = demo_config(var)
    demo_dir = config_file.parent
    # The demo's store is its folder; locked first, so a second demo stops here instead of wiping the first's.
    lock = StoreLock(demo_dir).acquire()
    # Each demo tells the story afresh: a store left by the last run would hold the same posts and alerts.
    for left in demo_dir.iterdir():
        if left.is_dir():
            shutil.rmtree(left)
        elif left != lock.path:
            left.unlink()
    mail_dir = var / "mail"

    site = DemoSite(speed).start()
    sink = MailSink(mail_dir).start()
    config_file.write_text(
        CONFIG.format(store=demo_dir.as_posix(), company=COMPANY, site=site.base_url,
                      interval=max(5, round(15 / speed)), smtp_port=sink.port, port=dashboard_port),
        encoding="utf-8",
    )
    service = Service(config.load(config_file), config_file, lock)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.start()
    except ListenError as exc:
        service.stop()
        sink.stop()
        site.stop()
        print(f"yuqing demo: cannot start the dashboard on port {dashboard_port} ({exc.reason}); "
              f"try --port {dashboard_port + 1}", file=sys.stderr)
        sys.exit(1)
    print(
        f"\nyuqing demo is running.\n"
        f"  dashboard:     {service.dashboard_url}\n"
        f"  demo sources:  {site.base_url}/news/feed.xml and {site.base_url}/forum/\n"
        f"  alert mail:    saved under {mail_dir}/ (SMTP sink on 127.0.0.1:{sink.port})\n"
        f"  search:        {search_hint(var)}\n"
        f"The incident unfolds over about {round(130 / speed)} seconds; the first alert mail lands within two minutes.\n"
        f"Press Ctrl-C to stop.\n",
        flush=True,
    )
    seen = 0
    try:
        while not stop.wait(1.0):
            for path in sink.received[seen:]:
                message = message_from_bytes(path.read_bytes(), policy=policy.default)
                print(f"alert mail: {path}  {message['Subject']}", flush=True)
            seen = len(sink.received)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", flush=True)
        service.stop()
        sink.stop()
        site.stop()
        print("stopped.", flush=True)
