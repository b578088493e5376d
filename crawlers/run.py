"""One crawl of one configured source, in a process of its own:

    python -m crawlers.run --source NAME [--config PATH] [--spool DIR]

Prints one JSON summary line; exit 0 on success, 1 when the crawl failed, 2 on a config error. The
summary counts items, posts a spider skipped as already stored (its `yuqing/known` stat), and what
went wrong (crawlers.breakage): the service keeps it in the source's health record.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import settings as yuqing_config
from crawlers import breakage
from crawlers.state import CrawlState, job_dir, state_file
from models import now

SPIDERS = {
    "rss": "crawlers.spiders.rss.RssSpider", "site": "crawlers.spiders.site.SiteSpider",
    "weibo": "crawlers.spiders.weibo.WeiboSpider", "baidu_news": "crawlers.spiders.baidu_news.BaiduNewsSpider",
    "tieba": "crawlers.spiders.tieba.TiebaSpider", "wechat": "crawlers.spiders.wechat.WechatSpider",
    "zhihu": "crawlers.spiders.zhihu.ZhihuSpider",
}


def crawl_command(source: str, config: Path | str | None, spool: Path | str) -> list[str]:
    # -P: never import a settings.py that happens to lie in the working directory.
    argv = [sys.executable, "-P", "-m", "crawlers.run", "--source", source, "--spool", str(spool)]
    return argv + (["--config", str(config)] if config else [])


def _failed(stats: dict, items: int) -> str | None:
    if items:
        return None
    found = breakage.summary(stats)
    if found["error_class"] in breakage.BLOCKING:
        return f"blocked ({found['error_class']} at {found['error_url']})"
    errors = stats.get("downloader/exception_count", 0)
    ok = sum(v for k, v in stats.items() if k.startswith("downloader/response_status_count/2"))
    if errors and not ok:
        kinds = sorted(k.rsplit("/", 1)[-1] for k in stats if k.startswith("downloader/exception_type_count/"))
        return f"every request failed ({', '.join(kinds) or 'network errors'})"
    if not ok:
        statuses = sorted(k.rsplit("/", 1)[-1] for k in stats if k.startswith("downloader/response_status_count/"))
        return f"no successful response (HTTP {', '.join(statuses) or 'none'})"
    if found["error_class"]:
        return f"nothing collected ({found['error_class']} at {found['error_url']})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.run")
    parser.add_argument("--source", required=True)
    parser.add_argument("--config")
    parser.add_argument("--spool", default="var/spool")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    try:
        config = yuqing_config.load(args.config, required=True)
        source = config.source(args.source)
    except yuqing_config.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.misc import load_object
    from scrapy.utils.project import get_project_settings

    scrapy_settings = get_project_settings()
    scrapy_settings.set("YUQING_SPOOL_DIR", str(Path(args.spool).resolve()))
    scrapy_settings.set("LOG_LEVEL", args.log_level)
    jobdir = job_dir(config.data_dir, args.source)
    scrapy_settings.set("JOBDIR", str(jobdir))
    history_file = state_file(config.data_dir, args.source)
    history = CrawlState.load(history_file)
    started = now()
    process = CrawlerProcess(scrapy_settings)
    crawler = process.create_crawler(load_object(SPIDERS[source.type]))
    process.crawl(crawler, source=args.source, config=args.config, history=history)
    process.start()

    stats = crawler.stats.get_stats() if crawler.stats else {}
    items = int(stats.get("yuqing/items", 0))
    failure = _failed(stats, items)
    summary = {
        "source": args.source, "items": items, "known": int(stats.get("yuqing/known", 0)),
        "errors": int(stats.get("log_count/ERROR", 0)),
        "finish_reason": stats.get("finish_reason"), "spool": [stats["yuqing/spool_file"]] if "yuqing/spool_file" in stats else [],
        **breakage.summary(stats),
    }
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    if summary["finish_reason"] != "finished":
        print(f"crawl of {args.source} stopped ({summary['finish_reason']}); the next crawl resumes it", file=sys.stderr)
        return 1
    shutil.rmtree(jobdir, ignore_errors=True)
    if not failure and crawler.spider is not None:
        job = crawler.spider.state
        history.advance(started, job.get("collected", {}), job.get("newest")).save(history_file)
    if failure:
        print(f"crawl of {args.source} failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
