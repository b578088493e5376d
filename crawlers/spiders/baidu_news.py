"""Baidu News search (newest first) → each result's article page, read by the generic extractor.

Results layouts read (tests/crawlers/raw/baidu_news):
- to about 2019 (news.baidu.com/ns, then www.baidu.com/s?tn=news): `div.result` > `h3.c-title a`, and
  `p.c-author` "来源&nbsp;&nbsp;2017年06月02日 16:20" (or "3小时前") before the summary;
- 2020 on: `div.result-op.c-container` > `h3.news-title_… a`, a `news-source` line of spans (`c-color-gray` the
  outlet, `c-color-gray2` the time, both also in `aria-label`s) and the summary in `span.c-color-text`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy
from parsel import SelectorList

from crawlers import breakage
from crawlers.dates import find_datetime, parse_datetime
from crawlers.extract import extract_article, page_outlet
from crawlers.spiders import SearchSpider, string_of

_RESULT = "ancestor::div[contains(@class, 'c-container') or contains(@class, 'result')][1]"
_WHEN = ".//span[contains(@class, 'c-color-gray2')] | .//*[starts-with(@aria-label, '发布于')]"
# Summary blocks, newest layout first; the older one holds the author line and a snapshot link too.
_SUMMARIES = (".//span[contains(@class, 'c-color-text')]", ".//div[contains(@class, 'c-span-last')]",
              ".//div[contains(@class, 'c-summary')]")
_SUMMARY_TEXT = (".//text()[not(ancestor::p[contains(@class, 'c-author')])"
                 " and not(ancestor::*[contains(@class, 'c-info')])]")


def _when(result: SelectorList) -> datetime | None:
    """The result's time: its own span or aria-label ("发布于：2小时前"), else the end of the older author line
    ("网易新闻 3小时前", "新浪财经 2017年06月02日 16:20")."""
    for node in result.xpath(_WHEN):
        if found := parse_datetime((node.attrib.get("aria-label") or string_of(node)).split("：", 1)[-1]):
            return found
    line = string_of(result.css("p.c-author")).split()
    return find_datetime(" ".join(line)) or next(
        (found for i in range(len(line)) if (found := parse_datetime(" ".join(line[i:])))), None)


def _summary(result: SelectorList) -> str:
    block = next((found for query in _SUMMARIES if (found := result.xpath(query))), result)[:1]
    return " ".join("".join(block.xpath(_SUMMARY_TEXT).getall()).split())


def _nothing_found(response: scrapy.http.TextResponse) -> bool:
    """Baidu's own answer for a search that found nothing, as opposed to a page whose markup we no longer read."""
    return bool(response.xpath("//*[contains(@class, 'content_none')]")) or "没有找到" in string_of(
        response.xpath("//body"))


class BaiduNewsSpider(SearchSpider):
    name = "baidu_news"
    search_url = "https://www.baidu.com/s?tn=news&rtt=4&word={keyword}"  # rtt=4: newest first

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        if why := breakage.unexpected_type(response, "html"):
            self.parse_failed(response.url, f"not a results page: {why}")
            return
        anchors = response.xpath("//div[@id='content_left']//h3//a[@href]")
        if not anchors:
            if _nothing_found(response):
                self.logger.info("%s: no results", response.url)
            else:
                self.parse_failed(response.url, "a results page without results: has its layout changed?")
            return
        fresh = 0
        for anchor in anchors:
            result = anchor.xpath(_RESULT)
            url = response.urljoin(anchor.attrib["href"])
            published = _when(result)
            if self.known(url, published):
                continue
            fresh += 1
            yield self.follow(url, self.parse_article, url, url=url, title=string_of(anchor), content=_summary(result),
                              published_at=published)
        yield from self.next_page(response, response.xpath("//*[@id='page']//a[contains(., '下一页')]/@href").get(),
                                  page, fresh)

    def parse_article(self, response: scrapy.http.Response, listing: dict[str, Any]) -> Any:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "not a text page; keeping what the results page showed")
            return self.found(listing)
        article = extract_article(response.text, response.url)
        return self.found(listing, url=response.url, title=article["title"], content=article["content"],
                          published_at=article["published_at"], author=article["author"],
                          outlet=page_outlet(response.selector))
