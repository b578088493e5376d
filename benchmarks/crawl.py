"""Crawl throughput: the real `site` spider (generic link finder, generic extractor, clean and spool
pipelines) over a local site of generated Chinese news pages, politeness off.

    python benchmarks/crawl.py [--pages 5000] [--concurrency 64]

The site runs in a process of its own (an asyncio server with keep-alive), so that it does not share a
core with the crawler; the crawl runs in this process. The figure is pages parsed and handed to the
pipeline per second, from the first request to the last item.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PER_LIST = 50
WORDS = ("北辰燃料乙醇 项目 环保 部门 居民 反映 调查 企业 表示 生产 安全 会议 部署 工作 记者 现场 看到 相关 介入 配合 "
         "排放 检测 数据 达标 社会 各界 监督 发展 改革 市场 经济 投资 消费 需求 政策 地方 政府 群众 生活 质量 提升").split()


def article(n: int) -> bytes:
    rng = random.Random(n)
    title = "".join(rng.choices(WORDS, k=6)) + f"第{n}期"
    paragraphs = "".join(
        f"<p>{''.join(rng.choices(WORDS, k=rng.randint(30, 60)))}。</p>" for _ in range(rng.randint(5, 9))
    )
    nav = "".join(f'<li><a href="/list/{i}.html">栏目{i}</a></li>' for i in range(1, 11))
    related = "".join(f'<li><a href="/a/{(n + i) % 5000}.html">相关阅读：新闻标题{i}</a></li>' for i in range(1, 9))
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}_白桦新闻网</title>'
        f'<meta property="article:published_time" content="2024-03-{n % 28 + 1:02d}T08:{n % 60:02d}:00+08:00">'
        f'</head><body><div class="nav"><ul>{nav}</ul></div><div class="main"><h1>{title}</h1>'
        f'<div class="info">2024-03-{n % 28 + 1:02d} 08:{n % 60:02d} 来源：白桦日报 作者：记者{n % 17}</div>'
        f'<div class="article-content">{paragraphs}</div><div class="related"><ul>{related}</ul></div></div>'
        f'<div class="footer">版权所有 白桦新闻网</div></body></html>'
    ).encode("utf-8")


def list_page(page: int, pages: int) -> bytes:
    first = (page - 1) * PER_LIST
    links = "".join(f'<li><a href="/a/{n}.html">北辰燃料乙醇新闻标题第{n}条</a></li>'
                    for n in range(first, min(first + PER_LIST, pages)))
    more = f'<a class="next" href="/list/{page + 1}.html">下一页</a>' if first + PER_LIST < pages else ""
    return f'<html><head><meta charset="utf-8"><title>列表</title></head><body><ul>{links}</ul>{more}</body></html>'.encode()


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pages: int) -> None:
    try:
        while request := await reader.readuntil(b"\r\n\r\n"):
            path = request.split(b" ", 2)[1].decode()
            if path.startswith("/a/"):
                status, body = b"200 OK", article(int(path[3:-5]))
            elif path.startswith("/list/"):
                status, body = b"200 OK", list_page(int(path[6:-5]), pages)
            else:
                status, body = b"404 Not Found", b""
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve(port: multiprocessing.Value, pages: int) -> None:  # type: ignore[valid-type]
    async def run() -> None:
        server = await asyncio.start_server(lambda r, w: _answer(r, w, pages), "127.0.0.1", 0)
        port.value = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        await server.serve_forever()

    asyncio.run(run())


def crawl(base: str, pages: int, concurrency: int, folder: Path) -> tuple[int, float]:
    os.environ["SCRAPY_SETTINGS_MODULE"] = "settings"
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from crawlers.spiders.site import SiteSpider

    config = folder / "yuqing.toml"
    config.write_text(f'[[sources]]\nname = "bench"\ntype = "site"\nurl = "{base}/list/1.html"\nnext_selector = "a.next"\n'
                      f"max_pages = {pages // PER_LIST + 1}\ndownload_delay = 0\n", encoding="utf-8")
    settings = get_project_settings()
    settings.setdict({
        "ROBOTSTXT_OBEY": False, "AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "LOG_LEVEL": "WARNING",
        "CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "YUQING_SPOOL_DIR": str(folder / "spool"),
    })
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SiteSpider)
    times: list[float] = []

    def scraped() -> None:
        times.append(time.perf_counter())

    crawler.signals.connect(scraped, signal=signals.item_scraped)  # held weakly: `scraped` must outlive the crawl
    process.crawl(crawler, source="bench", config=str(config))
    started = time.perf_counter()
    process.start()
    return len(times), (times[-1] if times else time.perf_counter()) - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    port = multiprocessing.Value("i", 0)
    server = multiprocessing.Process(target=serve, args=(port, args.pages), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.05)
    try:
        with tempfile.TemporaryDirectory() as folder:
            items, seconds = crawl(f"http://127.0.0.1:{port.value}", args.pages, args.concurrency, Path(folder))
    finally:
        server.terminate()
    print(f"crawled {items} of {args.pages} pages in {seconds:.1f}s: {items / seconds:.0f} pages/s "
          f"parsed and handed to the pipeline (concurrency {args.concurrency}, politeness off)")
    if items < args.pages:
        sys.exit(f"only {items} of {args.pages} pages arrived")


if __name__ == "__main__":
    main()
