"""A source's configured proxy, applied to every request of its crawl."""

from __future__ import annotations

import scrapy
from scrapy.crawler import Crawler


class SourceProxyMiddleware:
    """Sets `meta['proxy']` from the source's `proxy` for every request, robots.txt included (a request made
    for robots.txt never passes through the spider); Scrapy's HttpProxyMiddleware then uses it."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourceProxyMiddleware:
        return cls(crawler)

    def process_request(self, request: scrapy.Request) -> None:
        proxy = getattr(getattr(self.crawler.spider, "source", None), "proxy", "")
        if proxy:
            request.meta.setdefault("proxy", proxy)
