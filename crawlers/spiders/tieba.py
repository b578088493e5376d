"""Tieba: a forum's thread list (`/f?kw=...`, one forum per keyword) → each new thread's first post (`/p/ID`).

Layouts read (tests/crawlers/raw/tieba has a raw response of each):
- desktop list (2018-2020 pages): a skeleton page that closes `</body></html>`, then the thread list inside HTML
  comments in `<code>` blocks, for the page's scripts to unfold (`li.j_thread_list`, creation time, next page);
- phone list (mobile user agent, a 2018 page): `a.ti_item[tid]` items, the last reply's time, paging in a script;
- thread pages: the first floor's data-field and text; its time in the tail line (`.post-tail-wrap .tail-info`,
  2021) or in the older tail (`.p_tail .j_reply_data`, 2014), or in the data-field where a page puts it there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy
from parsel import Selector
from w3lib.url import add_or_replace_parameter

from crawlers import breakage
from crawlers.dates import find_datetime, parse_datetime
from crawlers.numbers import parse_count
from crawlers.spiders import SearchSpider, string_of

# Tieba sends the desktop thread list inside HTML comments in <code> blocks, for its scripts to unfold.
_HIDDEN = re.compile(r"<code[^>]*>\s*<!--(.*?)-->\s*</code>", re.DOTALL)
# ...after the skeleton's own </body></html>: content past those lies outside the parsed document's root.
_CLOSING = re.compile(r"</(?:body|html)\s*>", re.IGNORECASE)
# The phone list pages by script: `page: {"offset":0,"page_size":50,"current_page":1,"total_page":4652,...}`.
_PHONE_PAGE = re.compile(r"\bpage:\s*(\{[^{}]*\"current_page\"[^{}]*\})")


def _fields(node: Selector) -> dict[str, Any]:
    try:
        data = json.loads(node.attrib.get("data-field") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _unfolded(text: str) -> Selector:
    """The list page as one document, with what its <code> comments hold."""
    return Selector(text=_CLOSING.sub("", _HIDDEN.sub(r"\1", text)))


def _desktop(listing: Selector) -> Iterator[dict[str, Any]]:
    for thread in listing.css("li.j_thread_list"):
        fields = _fields(thread)
        link = thread.css("a.j_th_tit")
        starter = thread.css(".tb_icon_author::attr(title)").get("").split(":", 1)[-1].strip()
        created = parse_datetime(thread.css(".is_show_create_time::text").get())
        yield {
            "tid": str(thread.attrib.get("data-tid") or fields.get("id") or ""), "href": link.attrib.get("href"),
            "title": link.attrib.get("title") or string_of(link), "content": string_of(thread.css(".threadlist_abs")),
            "author": starter or fields.get("author_name") or "", "published_at": created, "seen_at": created,
            "metrics": {"comments": parse_count(fields.get("reply_num")) or 0},
        }


def _phone(listing: Selector) -> Iterator[dict[str, Any]]:
    for link in listing.css("a.ti_item[tid], a.j_common[tid]"):
        item = link.xpath("ancestor::li[1]")
        replies = parse_count(string_of(item.css(".btn_reply .btn_icon"))) if item.css(".btn_reply") else None
        yield {
            # The item shows the last reply's time, not the thread's: a bound for paging, not a publication time.
            "tid": link.attrib["tid"], "href": link.attrib.get("href"),
            "seen_at": parse_datetime(string_of(item.css(".ti_time"))),
            "title": string_of(link.css(".ti_title span:not(.ti_title_icon)")) or string_of(link.css(".ti_title")),
            "author": string_of(item.css(".ti_author")), "published_at": None,
            "metrics": {"comments": replies} if replies is not None else {},
        }


def _phone_next(response: scrapy.http.TextResponse) -> str | None:
    match = _PHONE_PAGE.search(response.text)
    try:
        page = json.loads(match.group(1)) if match else {}
        if int(page["current_page"]) < int(page["total_page"]):
            return add_or_replace_parameter(response.url, "pn", str(int(page["offset"]) + int(page["page_size"])))
    except (ValueError, KeyError, TypeError):
        pass
    return None


class TiebaSpider(SearchSpider):
    name = "tieba"
    search_url = "https://tieba.baidu.com/f?kw={keyword}&ie=utf-8"

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        if why := breakage.unexpected_type(response, "html"):
            self.parse_failed(response.url, f"not a thread list: {why}")
            return
        listing = _unfolded(response.text)
        threads = list(_desktop(listing)) or list(_phone(listing))
        if not threads:
            self.parse_failed(response.url, "a forum page without threads: has the list's layout changed?")
            return
        fresh = 0
        for thread in threads:
            tid, seen_at = thread.pop("tid"), thread.pop("seen_at")
            href = thread.pop("href")
            if not tid.isdigit() or not href:
                self.parse_failed(response.url, "a thread without an id or a link, skipped")
                continue
            if self.known(tid, seen_at):
                continue
            fresh += 1
            url = response.urljoin(f"/p/{tid}")  # one address for a thread, whichever list showed it
            yield self.follow(url, self.parse_thread, tid, url=url, native_id=tid, **thread)
        next_href = listing.css("a.next::attr(href)").get() or _phone_next(response)
        yield from self.next_page(response, next_href, page, fresh)

    def parse_thread(self, response: scrapy.http.Response, listing: dict[str, Any]) -> Any:
        if why := breakage.unexpected_type(response, "html"):
            self.parse_failed(response.url, f"not a thread page ({why}); keeping what the list showed")
            return self.found(listing)
        first = response.css("div.l_post")[:1]
        if not first:
            self.parse_failed(response.url, "no first post found; keeping what the list showed")
            return self.found(listing)
        fields = _fields(first[0])
        author = fields.get("author") if isinstance(fields.get("author"), dict) else {}
        content = fields.get("content") if isinstance(fields.get("content"), dict) else {}
        return self.found(
            listing,
            title=response.css(".core_title_txt::attr(title)").get() or string_of(response.css(".core_title_txt")),
            content=string_of(first.css(".d_post_content")),
            author=string_of(first.css(".p_author_name")) or author.get("user_name"),
            author_id=str(author.get("user_id") or ""),
            published_at=_floor_time(first, content),
        )


def _floor_time(first: Selector, content: dict[str, Any]) -> datetime | None:
    """The floor's time: in its data-field where given, else in its tail ("1楼 2021-11-27 10:38"), which older
    pages wrote as `.p_tail` (…<span class="j_reply_data">2014-07-01 16:22</span>)."""
    return parse_datetime(content.get("date")) or find_datetime(string_of(first.css(".post-tail-wrap, .p_tail")))
