"""Zhihu search results: answers and articles with their excerpt, author, time and counts.

Results are read from the page's markup; a page that renders them with scripts instead carries them in its
`<script id="js-initialData">` JSON, read when the markup has none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy
from parsel import Selector
from w3lib.html import remove_tags

from crawlers.dates import parse_datetime
from crawlers.items import PostItem
from crawlers.numbers import parse_count
from crawlers.spiders import SearchSpider, string_of
from models import SHANGHAI

_ID = re.compile(r"/(answer|p|zvideo)/(\d+)")
_KIND = {"answer": "answer", "p": "article", "zvideo": "zvideo"}
_TIME_LABEL = re.compile(r"^(?:发布于|编辑于)\s*")


def _stamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, SHANGHAI) if isinstance(value, int | float) and value > 0 else None


class ZhihuSpider(SearchSpider):
    name = "zhihu"
    search_url = "https://www.zhihu.com/search?type=content&q={keyword}"

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "not a results page")
            return
        found = list(self.from_markup(response)) or list(self.from_data(response))
        if not found:
            self.logger.warning("%s: no search results found in the page", response.url)  # empty, not broken
        for item in found:
            if not self.known(item["native_id"], item.get("published_at")):
                yield self.collect(item["native_id"], item)

    def from_markup(self, response: scrapy.http.TextResponse) -> Iterator[PostItem]:
        for result in response.css(".List-item .ContentItem"):
            href = result.css(".ContentItem-title a::attr(href)").get()
            match = _ID.search(href or "")
            if not match:  # questions, topics and people have no text of their own here
                continue
            excerpt = result.css(".RichContent-inner .RichText")
            content = string_of(excerpt)
            # An excerpt starts "<b>author</b>：".
            author = string_of(excerpt.css("b")[:1])
            author = author if author and content.startswith(f"{author}：") else ""
            when = string_of(result.css(".SearchItem-time, .ContentItem-time"))
            yield self.item(
                url=response.urljoin(href), native_id=f"{_KIND[match[1]]}:{match[2]}",
                title=string_of(result.css(".ContentItem-title")),
                content=content.removeprefix(f"{author}：") if author else content,
                author=author,
                published_at=parse_datetime(_TIME_LABEL.sub("", when)),
                metrics={"likes": parse_count(result.css("button.VoteButton--up::attr(aria-label)").get()) or 0,
                         "comments": parse_count(string_of(result.xpath(".//button[contains(., '评论')]"))) or 0},
            )

    def from_data(self, response: scrapy.http.TextResponse) -> Iterator[PostItem]:
        blob = Selector(text=response.text).css("script#js-initialData::text").get()
        try:
            entities = json.loads(blob or "{}").get("initialState", {}).get("entities", {})
            answers, articles = entities.get("answers") or {}, entities.get("articles") or {}
        except (ValueError, AttributeError) as exc:
            self.parse_failed(response.url, f"unreadable js-initialData ({exc})")
            return
        for kind, entries in (("answer", answers), ("article", articles)):
            for key, entry in entries.items() if isinstance(entries, dict) else ():
                if not isinstance(entry, dict):
                    continue
                author = entry.get("author") if isinstance(entry.get("author"), dict) else {}
                question = entry.get("question") if isinstance(entry.get("question"), dict) else {}
                url = entry.get("url") if kind == "article" else f"/question/{question.get('id')}/answer/{key}"
                yield self.item(
                    url=response.urljoin(str(url or f"/p/{key}")), native_id=f"{kind}:{key}",
                    title=remove_tags(str(entry.get("title") or question.get("title") or "")),
                    content=remove_tags(str(entry.get("content") or entry.get("excerpt") or "")).strip(),
                    author=str(author.get("name") or ""), author_id=str(author.get("urlToken") or ""),
                    author_followers=parse_count(author.get("followerCount")),
                    published_at=_stamp(entry.get("createdTime") or entry.get("created")),
                    metrics={"likes": parse_count(entry.get("voteupCount")) or 0,
                             "comments": parse_count(entry.get("commentCount")) or 0},
                )
