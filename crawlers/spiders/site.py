"""A configured site: list pages → article pages, by configured selectors or the generic extractor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from parsel import Selector

import settings as config
from crawlers.dates import parse_datetime
from crawlers.extract import extract_article, page_outlet
from crawlers.numbers import parse_count
from crawlers.spiders import SourceSpider, select, text_of

HEADLINE_MIN_CHARS = 8


class SiteSpider(SourceSpider):
    name = "site"

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[scrapy.Request]:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "a list page that is not text")
            return
        links = self._links(response)
        if not links and self.source.link_selector:
            self.parse_failed(response.url, f"link_selector {self.source.link_selector!r} found no links; "
                                            "has the page changed?")
        fresh = [url for url in links if not self.known(url, None)]
        for url in fresh:
            replies = self._listed_replies(links[url])
            yield self.request(url, self.parse_article, cb_kwargs={"key": url, "replies": replies})
        # Incremental: a list page with nothing new means the pages after it were collected before too.
        if fresh and self.source.next_selector and page < self.source.max_pages:
            for href in select(response, self.source.next_selector).xpath("./@href").getall()[:1]:
                yield self.request(response.urljoin(href), self.parse, cb_kwargs={"page": page + 1})

    def _links(self, response: scrapy.http.TextResponse) -> dict[str, Selector]:
        """Article URLs, in page order, each with its anchor (where the list shows its reply count)."""
        found: dict[str, Selector] = {}
        if self.source.link_selector:
            nodes = select(response, self.source.link_selector)
            anchors = nodes.xpath("self::*[@href]") or nodes.xpath(".//a[@href]")
            for anchor in anchors:
                found.setdefault(response.urljoin(anchor.attrib["href"]), anchor)
            return found
        # Generic: same-site links whose text reads like a headline.
        host = urlsplit(response.url).netloc
        for anchor in response.xpath("//a[@href]"):
            text = " ".join(anchor.xpath(".//text()").getall()).strip()
            url = response.urljoin(anchor.attrib["href"])
            if (len(text) >= HEADLINE_MIN_CHARS and url.startswith("http") and urlsplit(url).netloc == host
                    and urlsplit(url).path not in ("", "/")):
                found.setdefault(url, anchor)
        return found

    def _listed_replies(self, anchor: Selector) -> int | None:
        """The reply count in the link's row: the nearest element around the link that holds exactly one match
        of `replies_selector` (a list's row holds one; the whole list holds one per row)."""
        if not self.source.replies_selector:
            return None
        for row in anchor.xpath("ancestor::*[position() <= 4]")[::-1]:
            matches = select(row, self.source.replies_selector)
            if len(matches) == 1:
                return parse_count(text_of(matches))
            if matches:
                return None
        return None

    def parse_article(self, response: scrapy.http.Response, key: str, replies: int | None = None) -> Any:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "an article that is not text")
            return None
        fields = article_fields(self.source, response, self.parse_failed)
        if self.source.replies_selector:
            on_page = parse_count(text_of(select(response, self.source.replies_selector)))
            replies = on_page if on_page is not None else replies
        if replies is not None:
            fields["metrics"] = {"comments": replies}
        return self.collect(key, self.item(url=response.url, **fields))


def article_fields(source: config.Source, response: scrapy.http.TextResponse,
                   missed: Callable[[str, str], None]) -> dict[str, Any]:
    """Title, content, publication time and author by the source's selectors; the generic extractor
    fills whatever has no selector, or one that found nothing (reported to `missed(url, why)`). And the
    outlet the page names."""
    generic: dict[str, Any] | None = None

    def field(selector: str, key: str) -> Any:
        nonlocal generic
        if selector:
            nodes = select(response, selector)
            if key == "published_at":
                raw = nodes.xpath("./@datetime | ./@content").get() or text_of(nodes)
                return parse_datetime(raw)
            value = text_of(nodes)
            if value:
                return value
            missed(response.url, f"selector {selector!r} for {key} found nothing; using the generic extractor")
        if generic is None:
            generic = extract_article(response.text, response.url)
        return generic[key]

    return {
        "title": field(source.title_selector, "title"),
        "content": field(source.content_selector, "content"),
        "published_at": field(source.time_selector, "published_at"),
        "author": field(source.author_selector, "author"),
        "outlet": "" if source.display_name else page_outlet(response.selector),  # display_name wins anyway
    }
