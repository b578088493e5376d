"""Spiders, one per kind of source. Each takes `-a source=NAME` and reads that source from the yuqing config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from parsel import Selector, SelectorList

import settings as yuqing_config
from crawlers import breakage
from crawlers.items import PostItem
from crawlers.jsontext import loads_lenient


class SourceSpider(scrapy.Spider):
    """What every yuqing spider shares: its configured source, polite requests, items stamped with the source."""

    def __init__(self, source: str = "", config: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not source:
            raise yuqing_config.ConfigError(f"spider {self.name!r} needs a source: scrapy crawl {self.name} -a source=NAME")
        self.source = yuqing_config.load(config).source(source)
        if self.source.type != self.name:
            raise yuqing_config.ConfigError(f"source {source!r} is of type {self.source.type!r}, not {self.name!r}")
        self.source_name = source
        if self.source.download_delay is not None:
            self.download_delay = self.source.download_delay

    def request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        if self.source.download_timeout:
            kwargs["meta"] = {"download_timeout": self.source.download_timeout, **kwargs.get("meta", {})}
        return scrapy.Request(url, callback=callback, headers=self.source.headers or None,
                              cookies=self.source.cookies or None, **kwargs)

    def parse_failed(self, url: str, why: str) -> None:
        """A page that did not read as expected: a warning with the URL, and a `parse` error for the health record."""
        self.logger.warning("%s: %s", url, why)
        breakage.record(self.crawler.stats, breakage.PARSE, url)

    def read_json(self, response: scrapy.http.TextResponse) -> Any:
        """The response's JSON; of a truncated one, what is complete (and a parse error); None if unreadable."""
        try:
            data, complete = loads_lenient(response.text)
        except ValueError:
            self.parse_failed(response.url, "not JSON")
            return None
        if not complete:
            self.parse_failed(response.url, "truncated or broken JSON; kept what was complete")
        return data

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.request(self.source.url, self.parse)

    def item(self, **fields: Any) -> PostItem:
        return PostItem(source=self.source_name, platform=self.source.platform, source_tier=self.source.tier, **fields)


def select(node: Selector | scrapy.http.TextResponse, query: str) -> SelectorList:
    """A configured selector: CSS, or XPath when written `xpath:...`."""
    if query.startswith("xpath:"):
        return node.xpath(query[len("xpath:"):])
    return node.css(query)


def text_of(nodes: SelectorList) -> str:
    return "\n".join(" ".join(n.xpath(".//text()").getall()).strip() for n in nodes).strip()
