"""What a source's spider reads from one page, outside a crawl (`yuqing extract FILE_OR_URL --source NAME`).

The page goes through the spider's own `parse`, as in a crawl, so an operator can check a site after it
changed its layout: the posts the page yields (for a results page, what it shows of each post before the
post's own page is fetched), the further pages a crawl would ask for, and the breakage it would record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.misc import load_object

import settings as yuqing_config
from crawlers import breakage
from crawlers.pipelines import CleanPipeline
from crawlers.run import SPIDERS
from models import SHANGHAI


@dataclass
class Reading:
    items: list[dict[str, Any]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)  # further pages a crawl would fetch (next page, a fallback)
    dropped: list[str] = field(default_factory=list)  # why an item a crawl would drop was dropped
    breakage: dict[str, Any] = field(default_factory=dict)  # as crawlers.breakage.summary


def read_page(source_name: str, config: Path | str | None, response: scrapy.http.Response) -> Reading:
    """Run the source's spider's `parse` on one response; every post counts, whatever its age."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
    from scrapy.utils.project import get_project_settings

    source = yuqing_config.load(config, required=True).source(source_name)
    spidercls = load_object(SPIDERS[source.type])
    crawler = Crawler(spidercls, get_project_settings())
    crawler.stats = MemoryStatsCollector(crawler)  # what a crawl's stats would count, without starting one
    spider = spidercls.from_crawler(crawler, source=source_name, config=str(config) if config else None)
    spider.cutoff = datetime.min.replace(tzinfo=SHANGHAI)
    reading, clean = Reading(), CleanPipeline()
    for out in spider.parse(response) or ():
        if isinstance(out, scrapy.Request):
            listing = out.cb_kwargs.get("listing")
            if not listing:
                reading.pages.append(out.url)
                continue
            out = spider.item(**listing["fields"])  # what the results page showed of the post
        if out is None:
            continue
        try:
            item = dict(clean.process_item(out))
        except DropItem as exc:
            reading.dropped.append(str(exc))
            continue
        item.pop("crawled_at", None)
        reading.items.append(item)
    reading.breakage = breakage.summary(crawler.stats.get_stats())
    return reading
