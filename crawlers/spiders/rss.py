"""RSS and Atom feeds, through feedparser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
import scrapy
from w3lib.html import remove_tags, replace_entities

from crawlers.dates import parse_datetime
from crawlers.extract import extract_article
from crawlers.spiders import SourceSpider


def _text(html: str) -> str:
    return replace_entities(remove_tags(html or "")).strip()


class RssSpider(SourceSpider):
    name = "rss"

    def parse(self, response: scrapy.http.Response, **kwargs: Any) -> Iterator[Any]:
        feed = feedparser.parse(response.body, response_headers={"content-type": response.headers.get("Content-Type", b"").decode("latin-1")})
        if feed.bozo and not feed.entries:
            self.logger.warning("%s: not a readable feed (%s)", response.url, feed.get("bozo_exception"))
            return
        for entry in feed.entries:
            link = entry.get("link") or ""
            if not link:
                continue
            body = entry.get("content", [{}])[0].get("value") if entry.get("content") else entry.get("summary", "")
            item = self.item(
                url=response.urljoin(link),
                native_id=None,
                title=_text(entry.get("title", "")),
                content=_text(body),
                author=entry.get("author", ""),
                published_at=parse_datetime(entry.get("published") or entry.get("updated")),
            )
            if self.source.follow_links:
                yield self.request(item["url"], self.parse_article, cb_kwargs={"item": item})
            else:
                yield item

    def parse_article(self, response: scrapy.http.Response, item: Any) -> Any:
        if not isinstance(response, scrapy.http.TextResponse):
            return item
        article = extract_article(response.text, response.url)
        if len(article["content"]) > len(item.get("content") or ""):
            item["content"] = article["content"]
        item["published_at"] = item.get("published_at") or article["published_at"]
        item["author"] = item.get("author") or article["author"]
        return item
