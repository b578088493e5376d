"""The demo's sources: a local news site with an RSS feed and a local forum, on 127.0.0.1.

Each post of the timeline appears when its time comes, so a crawler sees the story unfold.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from yuqing.demo.timeline import SITE_NAMES, TIMELINE, DemoPost
from models import now

_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><header><a href="/">{site}</a></header>{body}</body></html>"""


class DemoSite:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self.started = now()
        self._t0 = time.monotonic()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-site", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def published(self, post: DemoPost) -> datetime:
        return self.started + timedelta(seconds=post.at / self.speed)

    def released(self, kind: str) -> list[DemoPost]:
        elapsed = (time.monotonic() - self._t0) * self.speed
        return [p for p in TIMELINE if p.kind == kind and p.at <= elapsed]

    def start(self) -> DemoSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- pages ----
    def feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(p.title)}</title><link>{self.base_url}/news/{p.slug}.html</link>"
            f"<guid>{self.base_url}/news/{p.slug}.html</guid><description>{escape(p.body)}</description>"
            f"<author>{escape(p.author)}</author><pubDate>{format_datetime(self.published(p))}</pubDate></item>"
            for p in reversed(self.released("news"))
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{SITE_NAMES["news"]}</title>'
            f"<link>{self.base_url}/news/</link><description>白桦本地新闻</description>{items}</channel></rss>"
        )

    def article(self, post: DemoPost) -> str:
        when = self.published(post).strftime("%Y-%m-%d %H:%M")
        body = (
            f'<article><h1>{escape(post.title)}</h1><div class="meta">{when} 来源：{escape(post.outlet)} '
            f"作者：{escape(post.author)}</div><div class=\"content\"><p>{escape(post.body)}</p></div></article>"
        )
        return _PAGE.format(title=escape(post.title), site=SITE_NAMES["news"], body=body)

    def forum_list(self) -> str:
        rows = "".join(
            f'<li><a class="title" href="/forum/thread/{p.slug}.html">{escape(p.title)}</a>'
            f'<span class="author">{escape(p.author)}</span><span class="replies">{p.replies}</span></li>'
            for p in reversed(self.released("forum"))
        )
        return _PAGE.format(title=f"{SITE_NAMES['forum']} - 家长里短", site=SITE_NAMES["forum"], body=f'<ul class="threads">{rows}</ul>')

    def thread(self, post: DemoPost) -> str:
        when = self.published(post).strftime("%Y-%m-%d %H:%M:%S")
        body = (
            f'<div class="thread"><h1 class="title">{escape(post.title)}</h1><span class="author">{escape(post.author)}'
            f'</span><span class="time">{when}</span><div class="post-body">{escape(post.body)}</div></div>'
        )
        return _PAGE.format(title=escape(post.title), site=SITE_NAMES["forum"], body=body)

    def route(self, path: str) -> tuple[int, str, str]:
        if path == "/robots.txt":
            return 200, "text/plain; charset=utf-8", "User-agent: *\nAllow: /\n"
        if path == "/news/feed.xml":
            return 200, "application/rss+xml; charset=utf-8", self.feed()
        if path in ("/forum/", "/forum"):
            return 200, "text/html; charset=utf-8", self.forum_list()
        for kind, prefix, render in (("news", "/news/", self.article), ("forum", "/forum/thread/", self.thread)):
            if path.startswith(prefix) and path.endswith(".html"):
                slug = path[len(prefix):-5]
                for post in self.released(kind):
                    if post.slug == slug:
                        return 200, "text/html; charset=utf-8", render(post)
        return 404, "text/plain; charset=utf-8", "not found"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, kind, text = site.route(self.path.split("?")[0])
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass  # the crawler logs what matters

        return Handler
