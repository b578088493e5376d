"""RSS and Atom feeds through feedparser; JSON Feed (jsonfeed.org) read directly, truncated ones too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import feedparser
import scrapy
from w3lib.html import remove_tags, replace_entities

from crawlers.dates import parse_datetime
from crawlers.extract import extract_article, page_outlet, site_name
from crawlers.spiders import SourceSpider


def _text(html: str) -> str:
    return replace_entities(remove_tags(html or "")).strip()


class RssSpider(SourceSpider):
    name = "rss"

    def parse(self, response: scrapy.http.Response, **kwargs: Any) -> Iterator[Any]:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if "json" in content_type or response.body.lstrip()[:1] == b"{":
            entries, outlet = self._json_feed(response)
        else:
            feed = feedparser.parse(response.body, response_headers={"content-type": content_type})
            if feed.bozo and not feed.entries:
                self.parse_failed(response.url, f"not a readable feed ({feed.get('bozo_exception')})")
                return
            entries, outlet = feed.entries, _text(feed.feed.get("title", ""))
        for entry in entries:
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
                outlet=outlet,
            )
            if self.known(item["url"], None):
                continue  # collected by an earlier crawl: feeds repeat their latest entries every time
            if self.source.follow_links:
                yield self.request(item["url"], self.parse_article, cb_kwargs={"item": item})
            elif collected := self.collect(item["url"], item):
                yield collected

    def _json_feed(self, response: scrapy.http.Response) -> tuple[list[dict[str, Any]], str]:
        """JSON Feed items in feedparser's entry shape, and the feed's title."""
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "a JSON feed that is not text")
            return [], ""
        data = self.read_json(response)
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            if data is not None:
                self.parse_failed(response.url, "JSON without an `items` list: not a JSON Feed")
            return [], ""
        entries = []
        for item in items:
            if not isinstance(item, dict):
                continue
            author = (item.get("authors") or [item.get("author")])[0]
            entries.append({
                "link": item.get("url") or item.get("external_url") or "",
                "title": item.get("title") or "",
                "summary": item.get("content_html") or item.get("content_text") or item.get("summary") or "",
                "author": author.get("name", "") if isinstance(author, dict) else "",
                "published": item.get("date_published") or item.get("date_modified"),
            })
        title = data.get("title")
        return entries, _text(title) if isinstance(title, str) else ""

    def parse_article(self, response: scrapy.http.Response, item: Any) -> Any:
        if not isinstance(response, scrapy.http.TextResponse):
            return self.collect(item["url"], item)
        article = extract_article(response.text, response.url)
        if len(article["content"]) > len(item.get("content") or ""):
            item["content"] = article["content"]
        item["published_at"] = item.get("published_at") or article["published_at"]
        item["author"] = item.get("author") or article["author"]
        if not self.source.display_name:  # a page's og:site_name names the outlet better than a feed's title
            page = response.selector
            item["outlet"] = site_name(page) or item.get("outlet") or page_outlet(page)
        return self.collect(item["url"], item)
