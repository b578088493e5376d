"""Item pipelines: clean what spiders found, then spool it for the ingest stage."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawlers.dates import parse_datetime
from models import now

log = logging.getLogger(__name__)

MAX_CONTENT = 200_000
MAX_TITLE = 500
MAX_OUTLET = 60


class CleanPipeline:
    """Drop what has no URL or no text; cap sizes; make times ISO strings."""

    def process_item(self, item: scrapy.Item, spider: scrapy.Spider | None = None) -> scrapy.Item:
        url = (item.get("url") or "").strip()
        title = " ".join((item.get("title") or "").split())
        content = (item.get("content") or "").strip()
        if not url:
            raise DropItem("item without a url")
        if not title and not content:
            log.warning("dropped %s: no title and no text found", url)
            raise DropItem(f"no text at {url}")
        if len(content) > MAX_CONTENT:
            log.warning("%s: content of %d characters cut to %d", url, len(content), MAX_CONTENT)
            content = content[:MAX_CONTENT]
        item["url"], item["title"], item["content"] = url, title[:MAX_TITLE], content
        if item.get("outlet"):
            item["outlet"] = " ".join(str(item["outlet"]).split())[:MAX_OUTLET]
        published = item.get("published_at")
        if isinstance(published, str):
            published = parse_datetime(published)
        item["published_at"] = published.isoformat() if isinstance(published, datetime) else None
        item["crawled_at"] = now().isoformat()
        return item


class SpoolPipeline:
    """One JSON line per item into `<spool>/<source>-<utc stamp>-<pid>.jsonl.part`, renamed to .jsonl at the end.

    Each line is flushed as it is written, so a crash keeps what was collected; the ingest stage takes a
    .part file once the process that wrote it is gone.
    """

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self.count = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SpoolPipeline:
        return cls(Path(crawler.settings.get("YUQING_SPOOL_DIR") or "var/spool"))

    def open_spider(self, spider: scrapy.Spider) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = getattr(spider, "source_name", spider.name)
        self.path = self.spool_dir / f"{name}-{stamp}-{os.getpid()}.jsonl.part"
        self._file = self.path.open("a", encoding="utf-8")

    def process_item(self, item: scrapy.Item, spider: scrapy.Spider | None = None) -> scrapy.Item:
        assert self._file is not None
        record: dict[str, Any] = dict(item)
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()
        self.count += 1
        return item

    def close_spider(self, spider: scrapy.Spider) -> None:
        if self._file is None or self.path is None:
            return
        self._file.close()
        if self.count:
            final = self.path.with_suffix("")  # drop ".part"
            self.path.rename(final)
            spider.crawler.stats.set_value("yuqing/spool_file", str(final))
        else:
            self.path.unlink()
        spider.crawler.stats.set_value("yuqing/items", self.count)
