"""Local stand-ins for the platforms, on 127.0.0.1: a small HTTP server that records what it was asked, and a
Weibo search API that answers like m.weibo.cn (real-time search, pages of ten, a page cap, timescope)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from models import SHANGHAI

Reply = tuple[int, str, bytes]
Route = Callable[[dict[str, str]], Reply]


@dataclass
class Seen:
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def html(text: str) -> Reply:
    return 200, "text/html; charset=utf-8", text.encode("utf-8")


def as_json(data: Any) -> Reply:
    return 200, "application/json; charset=utf-8", json.dumps(data, ensure_ascii=False).encode("utf-8")


class FakeWeb:
    """Routes by path; requests made through it as a proxy (absolute URLs) are answered the same way."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                web.seen.append(Seen(parts.netloc, parts.path, query, {k.lower(): v for k, v in self.headers.items()}))
                if parts.path == "/robots.txt":
                    status, kind, body = 200, "text/plain", b"User-agent: *\nAllow: /\n"
                elif parts.path in web.routes:
                    status, kind, body = web.routes[parts.path](query)
                else:
                    status, kind, body = 404, "text/plain", b"not found"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def asked(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ingested(tmp_path: Path) -> None:
    """Clear the spool as the ingest stage does once its posts are stored, so the next crawl's items stand alone."""
    for file in (tmp_path / "spool").glob("*.jsonl"):
        file.unlink()


# ---- Weibo ----

def weibo_time(moment: datetime, now: datetime, style: str) -> str:
    """created_at as the API writes it: mostly the long form, sometimes the relative forms of the web pages."""
    if style == "relative":
        age = now - moment
        if age < timedelta(minutes=1):
            return "刚刚"
        if age < timedelta(hours=1):
            return f"{int(age.total_seconds() // 60)}分钟前"
        if moment.date() == now.date():
            return f"今天 {moment:%H:%M}"
        if moment.date() == (now - timedelta(days=1)).date():
            return f"昨天 {moment:%H:%M}"
        return f"{moment:%m-%d}"
    return moment.strftime("%a %b %d %H:%M:%S %z %Y")


@dataclass
class WeiboPost:
    mid: str
    time: datetime
    text: str
    user: str = "河西业主"
    followers: Any = 1520
    repost_of: WeiboPost | None = None
    style: str = "long"

    def mblog(self, now: datetime) -> dict[str, Any]:
        blog = {
            "id": self.mid, "mid": self.mid, "created_at": weibo_time(self.time, now, self.style),
            "text": self.text, "reposts_count": 3, "comments_count": "1.2万", "attitudes_count": 20,
            "region_name": "发布于 吉林", "isLongText": False,
            "user": {"id": int(self.mid[-6:]), "screen_name": self.user, "followers_count": self.followers,
                     "verified": self.user.endswith("发布"), "verified_type": 1 if self.user.endswith("发布") else -1},
        }
        if self.repost_of:
            blog["retweeted_status"] = self.repost_of.mblog(now)
        return blog


@dataclass
class WeiboApi:
    """Newest first, ten a page, at most `cap` pages a query; `timescope=custom:Y-m-d-H:Y-m-d-H` (hours included)."""

    posts: list[WeiboPost] = field(default_factory=list)
    cap: int = 50
    hold: threading.Event | None = None  # when set, page `hold_page` waits for it
    hold_page: int = 0

    def __call__(self, query: dict[str, str]) -> Reply:
        container = parse_qs(query.get("containerid", "").removeprefix("100103"))
        keyword = container.get("q", [""])[0]
        page = int(query.get("page", "1"))
        if self.hold and page == self.hold_page:
            self.hold.wait(30)
        found = sorted((p for p in self.posts if keyword in p.text), key=lambda p: p.time, reverse=True)
        if scope := container.get("timescope", [""])[0].removeprefix("custom:"):
            first, last = (datetime.strptime(h, "%Y-%m-%d-%H").replace(tzinfo=SHANGHAI) for h in scope.split(":"))
            found = [p for p in found if first <= p.time < last + timedelta(hours=1)]
        shown = found[(page - 1) * 10: page * 10] if page <= self.cap else []
        if not shown:
            return as_json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
        now = datetime.now(SHANGHAI)
        # Real search pages nest most posts in a card_group and leave some at the top level.
        cards = [{"card_type": 11, "card_group": [{"card_type": 9, "mblog": p.mblog(now)} for p in shown[:-2]]}]
        cards += [{"card_type": 9, "mblog": p.mblog(now)} for p in shown[-2:]]
        return as_json({"ok": 1, "data": {"cardlistInfo": {"page": page + 1, "total": len(found)}, "cards": cards}})
