"""Baidu News search (newest first) → each result's article page, read by the generic extractor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy

from crawlers.dates import find_datetime, parse_datetime
from crawlers.extract import extract_article, page_outlet
from crawlers.spiders import SearchSpider, string_of

_RESULT = "ancestor::div[contains(@class, 'c-container') or contains(@class, 'result')][1]"


class BaiduNewsSpider(SearchSpider):
    name = "baidu_news"
    search_url = "https://www.baidu.com/s?tn=news&rtt=4&word={keyword}"  # rtt=4: newest first

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "not a results page")
            return
        fresh = 0
        for anchor in response.xpath("//div[@id='content_left']//h3//a[@href]"):
            result = anchor.xpath(_RESULT)
            url = response.urljoin(anchor.attrib["href"])
            # Today's layout: a source span and a time span; the older one: "来源  2024年03月12日 08:30".
            when = string_of(result.xpath(".//span[contains(@class, 'c-color-gray2')]"))
            published = parse_datetime(when) or find_datetime(string_of(result.css("p.c-author")))
            if self.known(url, published):
                continue
            fresh += 1
            summary = result.xpath(".//span[contains(@class, 'c-color-text')] | .//div[contains(@class, 'c-summary')]")
            yield self.follow(url, self.parse_article, url, url=url, title=string_of(anchor), content=string_of(summary),
                              published_at=published)
        yield from self.next_page(response, response.xpath("//div[@id='page']//a[contains(., '下一页')]/@href").get(),
                                  page, fresh)

    def parse_article(self, response: scrapy.http.Response, listing: dict[str, Any]) -> Any:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "not a text page; keeping what the results page showed")
            return self.found(listing)
        article = extract_article(response.text, response.url)
        return self.found(listing, url=response.url, title=article["title"], content=article["content"],
                          published_at=article["published_at"], author=article["author"],
                          outlet=page_outlet(response.selector))
