"""Spiders, one per kind of source. Each takes `-a source=NAME` and reads that source from the yuqing config."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import scrapy
from parsel import Selector, SelectorList

import settings as yuqing_config
from crawlers import breakage
from crawlers.items import PostItem
from crawlers.jsontext import loads_lenient
from crawlers.state import CrawlState


class SourceSpider(scrapy.Spider):
    """What every yuqing spider shares: its configured source, polite requests, items stamped with the source."""

    def __init__(self, source: str = "", config: str | None = None, history: CrawlState | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not source:
            raise yuqing_config.ConfigError(f"spider {self.name!r} needs a source: scrapy crawl {self.name} -a source=NAME")
        settings = yuqing_config.load(config)
        self.source = settings.source(source)
        self.keywords = self.source.keywords or list(dict.fromkeys(k for s in settings.schemes for k in s.keywords))
        # What earlier successful crawls collected (crawlers.run passes it in; a crawl by hand starts afresh).
        self.history = history if isinstance(history, CrawlState) else CrawlState()
        self.cutoff = self.history.cutoff(self.source.lookback)
        # This job's own record; under a JOBDIR Scrapy saves it on a stop and restores it on resume.
        self.state: dict[str, Any] = {}
        if self.source.type != self.name:
            raise yuqing_config.ConfigError(f"source {source!r} is of type {self.source.type!r}, not {self.name!r}")
        self.source_name = source
        if self.source.download_delay is not None:
            self.download_delay = self.source.download_delay

    def request(self, url: str, callback: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> scrapy.Request:
        """A request with the source's headers (over a spider's own `headers`), cookies and timeout."""
        if self.source.download_timeout:
            kwargs["meta"] = {"download_timeout": self.source.download_timeout, **kwargs.get("meta", {})}
        return scrapy.Request(url, callback=callback, headers={**(headers or {}), **self.source.headers} or None,
                              cookies=self.source.cookies or None, **kwargs)

    def parse_failed(self, url: str, why: str) -> None:
        """A page that did not read as expected: a warning with the URL, and a `parse` error for the health record."""
        self.logger.warning("%s: %s", url, why)
        breakage.record(self.crawler.stats, breakage.PARSE, url)

    def read_json(self, response: scrapy.http.TextResponse) -> Any:
        """The response's JSON; of a truncated one, what is complete (and a parse error); None if unreadable."""
        if breakage.content_kind(response) is None:
            self.parse_failed(response.url, "not JSON (a body that is not text)")
            return None
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

    def search_terms(self) -> list[str]:
        """The keywords a search spider looks for; a source with none is said so, not silently idle."""
        if not self.keywords:
            self.logger.warning("source %s: no keywords to search for; give it `keywords` or define a scheme",
                                self.source_name)
        return self.keywords

    def item(self, **fields: Any) -> PostItem:
        if self.source.display_name:  # the operator's name for the outlet beats whatever the pages call it
            fields["outlet"] = self.source.display_name
        return PostItem(source=self.source_name, platform=self.source.platform, source_tier=self.source.tier, **fields)

    def known(self, key: str, published: datetime | None) -> bool:
        """Collected by a recent run, or older than the last successful run: where incremental paging stops.
        Counted, so that a run that found only known posts reads as quiet in the source's health, not as empty."""
        known = key in self.history.seen or (published is not None and published < self.cutoff)
        if known:
            self.crawler.stats.inc_value("yuqing/known")
        return known

    def collect(self, key: str, item: PostItem) -> PostItem | None:
        """The item, noted as collected (crawlers.run remembers it for later runs); None when this job has
        collected it already (a page fetched again after a resume, overlapping results)."""
        collected = self.state.setdefault("collected", {})  # a dict: ordered, and it pickles small
        if key in collected:
            return None
        collected[key] = None
        published = item.get("published_at")
        if isinstance(published, datetime) and (self.state.get("newest") is None or published > self.state["newest"]):
            self.state["newest"] = published
        return item


class SearchSpider(SourceSpider):
    """A platform searched by keyword: one results page per keyword, further pages while they hold new posts."""

    search_url = ""  # the real site's, with {keyword}; a source's `url` replaces it

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for keyword in self.search_terms():
            url = (self.source.url or self.search_url).format(keyword=quote(keyword))
            # Never filtered: a resumed job fetches the first page again, its saved queue holds the later ones.
            yield self.request(url, self.parse, dont_filter=True, cb_kwargs={"page": 1})

    def follow(self, link: str, callback: Any, key: str, **fields: Any) -> scrapy.Request:
        """A request for a post's own page, carrying what the results page showed of it."""
        return self.request(link, callback, errback=self.listed, cb_kwargs={"listing": {"key": key, "fields": fields}})

    def found(self, listing: dict[str, Any], **fields: Any) -> PostItem | None:
        """The item from the post's page, with what the results page showed where the post's page had nothing."""
        merged = {**listing["fields"], **{k: v for k, v in fields.items() if v not in (None, "", {})}}
        return self.collect(listing["key"], self.item(**merged))

    def listed(self, failure: Any) -> PostItem | None:
        """The post's page could not be fetched: keep what the results page showed."""
        self.logger.warning("%s: %s; keeping what the results page showed", failure.request.url, failure.value)
        return self.found(failure.request.cb_kwargs["listing"])

    def next_page(self, response: scrapy.http.TextResponse, href: str | None, page: int, fresh: int) -> Iterator[scrapy.Request]:
        """Stop paging at a page with nothing new (the rest was collected before) or at `max_pages`."""
        if not fresh:
            self.logger.info("%s: nothing new on page %d; stop paging", response.url, page)
        elif href and page < self.source.max_pages:
            yield self.request(response.urljoin(href), self.parse, cb_kwargs={"page": page + 1})


def select(node: Selector | scrapy.http.TextResponse, query: str) -> SelectorList:
    """A configured selector: CSS, or XPath when written `xpath:...`."""
    if query.startswith("xpath:"):
        return node.xpath(query[len("xpath:"):])
    return node.css(query)


def text_of(nodes: SelectorList) -> str:
    return "\n".join(" ".join(n.xpath(".//text()").getall()).strip() for n in nodes).strip()


def string_of(nodes: Selector | SelectorList) -> str:
    """Each node's text as a reader sees it, a line each: inline highlights (<em>) join without spaces."""
    nodes = [nodes] if isinstance(nodes, Selector) else nodes
    return "\n".join(" ".join((n.xpath("string()").get() or "").split()) for n in nodes).strip()
