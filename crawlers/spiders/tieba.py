"""Tieba: a forum's thread list (`/f?kw=...`, one forum per keyword) → each new thread's first post (`/p/ID`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector

from crawlers.dates import find_datetime, parse_datetime
from crawlers.numbers import parse_count
from crawlers.spiders import SearchSpider, string_of

# Tieba sends the thread list inside HTML comments in <code> blocks, for its scripts to unfold.
_HIDDEN = re.compile(r"<code[^>]*>\s*<!--(.*?)-->\s*</code>", re.DOTALL)


def _fields(node: Selector) -> dict[str, Any]:
    try:
        data = json.loads(node.attrib.get("data-field") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class TiebaSpider(SearchSpider):
    name = "tieba"
    search_url = "https://tieba.baidu.com/f?kw={keyword}&ie=utf-8"

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "not a thread list")
            return
        listing = Selector(text=_HIDDEN.sub(r"\1", response.text))
        fresh = 0
        for thread in listing.css("li.j_thread_list"):
            fields = _fields(thread)
            tid = str(thread.attrib.get("data-tid") or fields.get("id") or "")
            href = thread.css("a.j_th_tit::attr(href)").get()
            if not tid or not href:
                self.parse_failed(response.url, "a thread without an id or a link, skipped")
                continue
            created = parse_datetime(thread.css(".is_show_create_time::text").get())
            if self.known(tid, created):
                continue
            fresh += 1
            starter = thread.css(".tb_icon_author::attr(title)").get("").split(":", 1)[-1].strip()
            yield self.follow(
                response.urljoin(href), self.parse_thread, tid, url=response.urljoin(href), native_id=tid,
                title=thread.css("a.j_th_tit::attr(title)").get() or string_of(thread.css("a.j_th_tit")),
                content=string_of(thread.css(".threadlist_abs")), author=starter or fields.get("author_name") or "",
                published_at=created, metrics={"comments": parse_count(fields.get("reply_num")) or 0},
            )
        yield from self.next_page(response, listing.css("a.next::attr(href)").get(), page, fresh)

    def parse_thread(self, response: scrapy.http.Response, listing: dict[str, Any]) -> Any:
        if not isinstance(response, scrapy.http.TextResponse):
            self.parse_failed(response.url, "not a thread page; keeping what the list showed")
            return self.found(listing)
        first = response.css("div.l_post")[:1]
        fields = _fields(first[0]) if first else {}
        author = fields.get("author") if isinstance(fields.get("author"), dict) else {}
        content = fields.get("content") if isinstance(fields.get("content"), dict) else {}
        # The floor's time is in its data-field on older pages, in its tail line ("1楼 2024-03-12 08:30") on newer.
        published = parse_datetime(content.get("date")) or find_datetime(string_of(first.css(".tail-info, .post-tail-wrap")))
        if not first:
            self.parse_failed(response.url, "no first post found; keeping what the list showed")
        return self.found(
            listing,
            title=response.css(".core_title_txt::attr(title)").get() or string_of(response.css(".core_title_txt")),
            content=string_of(first.css(".d_post_content")),
            author=string_of(first.css(".p_author_name")) or author.get("user_name"),
            author_id=str(author.get("user_id") or ""),
            published_at=published,
        )
