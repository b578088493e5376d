"""A local site in the shapes crawlers meet: feeds, list pages, articles, GBK pages, broken pages."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.crawlers.fakes import FakeWeb

REPO = Path(__file__).resolve().parents[2]
RAW = Path(__file__).resolve().parent / "raw"  # raw responses as the sites sent them: raw/README.md says whence

ARTICLE = """<!doctype html><html><head><meta charset="utf-8">
<title>{title}_白桦新闻网</title><meta property="article:published_time" content="2024-03-12T08:30:00+08:00"></head>
<body><div class="nav"><a href="/">首页</a></div><h1>{title}</h1><div class="info">2024-03-12 08:30 来源：白桦日报 作者：李明</div>
<div class="article"><p>{body}</p><p>记者在现场看到，相关部门已经介入调查，企业表示将全力配合。</p></div></body></html>"""

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>白桦新闻</title>
<item><title>北辰燃料乙醇召开安全生产会议</title><link>/a/1.html</link><description>&lt;p&gt;会议部署了安全生产工作。&lt;/p&gt;</description>
<author>李明</author><pubDate>Tue, 12 Mar 2024 08:30:00 +0800</pubDate></item>
<item><title>白桦风电项目开工</title><link>/a/2.html</link><description>风电项目今日开工。</description>
<pubDate>Tue, 12 Mar 2024 09:00:00 +0800</pubDate></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>论坛</title>
<entry><title>北辰乙醇附近有异味</title><link href="http://HOST/a/3.html"/><id>t3</id>
<updated>2024-03-12T10:00:00+08:00</updated><author><name>河西业主</name></author>
<content type="html">&lt;p&gt;晚上气味很大。&lt;/p&gt;</content></entry></feed>"""

LIST = """<html><head><meta charset="utf-8"><title>列表</title></head><body>
<a href="/">首页</a><a href="/about.html">关于</a>
<ul class="news"><li><a class="t" href="/a/1.html">北辰燃料乙醇召开安全生产会议</a></li>
<li><a class="t" href="/a/2.html">白桦风电项目今日正式开工建设</a></li></ul>
<a class="next" href="/list2.html">下一页</a></body></html>"""

LIST2 = """<html><head><meta charset="utf-8"></head><body><ul class="news">
<li><a class="t" href="/a/4.html">第二页的新闻标题在这里出现</a></li></ul></body></html>"""

# A forum as Discuz lays one out: the list's rows give replies and views, a thread page may show its own count.
FORUM = """<html><head><meta charset="utf-8"><title>白桦论坛</title></head><body><table>
<tr><th>标题</th><th>回复/查看</th></tr>
<tr><td><a class="t" href="/thread/1.html">北辰燃料乙醇附近晚上有异味吗</a></td><td class="num"><a>1.2万</a><em>3万</em></td></tr>
<tr><td><a class="t" href="/thread/2.html">白桦风电项目什么时候开工</a></td><td class="num"><a>57</a><em>900</em></td></tr>
</table></body></html>"""
THREAD = """<html><head><meta charset="utf-8">{meta}<title>{title}</title></head><body><h1>{title}</h1>{count}
<div class="post"><p>{title}？楼主问一下大家，最近有没有人知道具体情况。</p></div></body></html>"""

GBK_BODY = "北辰燃料乙醇厂区附近居民反映夜间异味严重，环保部门已经介入调查。"


def pages(host: str) -> dict[str, tuple[str, bytes]]:
    html = "text/html; charset=utf-8"
    articles = {
        "/a/1.html": ARTICLE.format(title="北辰燃料乙醇召开安全生产会议", body="会议部署了今年的安全生产工作。"),
        "/a/2.html": ARTICLE.format(title="白桦风电项目今日正式开工建设", body="风电项目今日开工，总投资十亿元。"),
        "/a/3.html": ARTICLE.format(title="北辰乙醇附近有异味", body="晚上气味很大，居民希望有关部门尽快查明原因。" * 3),
        "/a/4.html": ARTICLE.format(title="第二页的新闻标题在这里出现", body="第二页的正文。"),
    }
    out = {path: (html, text.encode("utf-8")) for path, text in articles.items()}
    gbk_meta = f'<html><head><meta charset="gbk"><title>异味调查</title></head><body><h1>异味调查</h1><div><p>{GBK_BODY}</p></div></body></html>'
    gbk_bare = f"<html><head><title>异味调查</title></head><body><h1>异味调查</h1><div><p>{GBK_BODY * 3}</p></div></body></html>"
    out.update({
        "/robots.txt": ("text/plain", b"User-agent: *\nAllow: /\n"),
        "/feed.xml": ("application/rss+xml; charset=utf-8", RSS.encode("utf-8")),
        "/atom.xml": ("application/atom+xml", ATOM.replace("HOST", host).encode("utf-8")),
        "/list.html": (html, LIST.encode("utf-8")),
        "/list2.html": (html, LIST2.encode("utf-8")),
        "/gbk-meta.html": ("text/html", gbk_meta.encode("gbk")),
        "/gbk-bare.html": ("text/html", gbk_bare.encode("gb18030")),
        "/gbk-list.html": (html, b'<html><body><a class="t" href="/gbk-meta.html">gbk</a><a class="t" href="/gbk-bare.html">bare</a></body></html>'),
        "/broken-list.html": (html, '<html><body><a class="t" href="/broken.html">坏页面<a class="t" href="/empty.html">空页面<a class="t" href="/huge.html">长文'.encode("utf-8")),
        "/broken.html": (html, "<html><body><h1>北辰乙醇<div><p>没有闭合的标签<p>第二段 <span>".encode("utf-8")),
        "/empty.html": (html, b""),
        "/huge.html": (html, f"<html><body><h1>长文</h1><p>{'很长的内容。' * 60_000}</p></body></html>".encode("utf-8")),
        "/forum.html": (html, FORUM.encode("utf-8")),
        "/thread/1.html": (html, THREAD.format(title="北辰燃料乙醇附近晚上有异味吗", count="",
                                              meta='<meta property="og:site_name" content="白桦论坛">').encode("utf-8")),
        "/thread/2.html": (html, THREAD.format(title="白桦风电项目什么时候开工", meta="",
                                              count='<span class="replies">回复 63</span>').encode("utf-8")),
        "/bad-feed.xml": ("application/rss+xml", b"<rss><channel><item><title>broken"),
    })
    return out


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802
        kind, body = self.routes.get(self.path, ("text/plain", b""))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`with serve(Handler) as base_url:` an HTTP server on 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(_Handler) as base:
        _Handler.routes = pages(base.removeprefix("http://"))
        yield base


def write_config(tmp_path: Path, sources: str) -> Path:
    path = tmp_path / "yuqing.toml"
    path.write_text(sources, encoding="utf-8")
    return path


def crawl(tmp_path: Path, config: Path, source: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    from crawlers.run import crawl_command

    spool = tmp_path / "spool"
    done = subprocess.run(crawl_command(source, config, spool), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    items = []
    for file in sorted(spool.glob("*.jsonl")):
        items += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    return done, items


__all__ = ["REPO", "crawl", "serve", "write_config", "sys"]


SOURCE_CONFIG = """
[[schemes]]
name = "company"
keywords = ["北辰乙醇"]

[[sources]]
name = "{name}"
type = "{type}"
url = "{url}"
download_delay = 0
{extra}
"""


def source_config(tmp_path: Path, type_: str, url: str, extra: str = "", name: str = "src") -> Path:
    """A config with one watch scheme and one source at `url` (a feed, a list page or a search)."""
    return write_config(tmp_path, SOURCE_CONFIG.format(name=name, type=type_, url=url, extra=extra))


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    server = FakeWeb()
    yield server
    server.close()
