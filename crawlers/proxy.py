"""A source's configured proxy, applied to every request of its crawl."""

from __future__ import annotations

import scrapy


class SourceProxyMiddleware:
    """Sets `meta['proxy']` from the source's `proxy` for every request, robots.txt included (a request made
    for robots.txt never passes through the spider); Scrapy's HttpProxyMiddleware then uses it."""

    def process_request(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        proxy = getattr(getattr(spider, "source", None), "proxy", "")
        if proxy:
            request.meta.setdefault("proxy", proxy)
