"""WeChat official-account articles found through Sogou Weixin search → the articles on mp.weixin.qq.com."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy

from crawlers import breakage
from crawlers.dates import parse_datetime
from crawlers.spiders import SearchSpider, string_of
from models import SHANGHAI

_STAMP = re.compile(r"timeConvert\('(\d{9,11})'\)")
# Sogou's result links answer with a script that assembles the article's address piece by piece.
_PIECE = re.compile(r"url\s*\+=\s*'([^']*)'")
_CT = re.compile(r'var\s+ct\s*=\s*"(\d{9,11})"')


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), SHANGHAI) if value else None


def _var(html: str, name: str) -> str:
    """The last non-empty string of `var name = "" || "value"`, as article pages write their ids."""
    match = re.search(rf"var\s+{name}\s*=\s*([^;\n]*)", html)
    values = re.findall(r'"([^"]*)"', match.group(1)) if match else []
    return next((v for v in reversed(values) if v), "")


class WechatSpider(SearchSpider):
    name = "wechat"
    search_url = "https://weixin.sogou.com/weixin?type=2&query={keyword}"

    def parse(self, response: scrapy.http.Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        """A results page in either layout: the older one (to 2018) links each result straight to
        mp.weixin.qq.com and writes its account in `a.account` and its time in `.s-p[t]`; the newer one links
        through `/link?url=…` and writes the account in `span.all-time-y2`, the time only in the script
        `document.write(timeConvert('…'))`."""
        if breakage.content_kind(response) != "html":
            self.parse_failed(response.url, "not a results page (not HTML)")
            return
        results = response.css("ul.news-list > li")
        if not results:
            if response.css("#noresult_part1_container"):
                self.logger.info("%s: no results", response.url)  # Sogou says so itself: not a broken page
            else:
                self.parse_failed(response.url, "no results and no word that there are none (ul.news-list > li, "
                                                "#noresult_part1_container)")
            return
        fresh = 0
        for result in results:
            anchor = result.css("h3 a[href]")
            if not anchor:
                self.parse_failed(response.url, "a result without a link, skipped")
                continue
            url = response.urljoin(anchor.attrib["href"])
            found = _STAMP.search(result.get())
            published = _stamp(result.css(".s-p::attr(t)").get() or (found.group(1) if found else None))
            title, author = string_of(anchor), string_of(result.css("a.account, .all-time-y2")[:1])
            # Result links carry a token that changes with every search; Sogou's own `d` id, or what the result
            # says of itself, does not.
            key = result.attrib.get("d") or f"{author}:{title}:{published.isoformat() if published else ''}"
            if self.known(key, published):
                continue
            fresh += 1
            yield self.follow(url, self.parse_link, key, url=url, title=title, author=author,
                              content=string_of(result.css("p.txt-info")), published_at=published)
        yield from self.next_page(response, response.css("a#sogou_next::attr(href)").get(), page, fresh)

    def parse_link(self, response: scrapy.http.Response, listing: dict[str, Any]) -> Any:
        if breakage.content_kind(response) != "html":
            self.parse_failed(response.url, "not a web page; keeping what the results page showed")
            return self.found(listing)
        if response.css("#js_content"):
            return self.parse_article(response, listing)
        pieces = _PIECE.findall(response.text)
        if not pieces:
            self.parse_failed(response.url, "neither an article nor Sogou's redirect; keeping what the results page showed")
            return self.found(listing)
        return self.request(response.urljoin("".join(pieces).replace("@", "")), self.parse_article,
                            errback=self.listed, cb_kwargs={"listing": listing})

    def parse_article(self, response: scrapy.http.Response, listing: dict[str, Any]) -> Any:
        if breakage.content_kind(response) != "html":
            self.parse_failed(response.url, "not a web page; keeping what the results page showed")
            return self.found(listing)
        html = response.text
        ids = [_var(html, name) for name in ("biz", "mid", "idx")]
        stamp = _CT.search(html)
        published = _stamp(stamp.group(1)) if stamp else parse_datetime(string_of(response.css("#publish_time")))
        if not response.css("#js_content"):
            self.parse_failed(response.url, "no article body (#js_content); keeping what the results page showed")
        return self.found(
            listing,
            url=response.url,
            native_id=":".join(ids) if all(ids) else None,
            title=string_of(response.css("#activity-name")),
            content=string_of(response.css("#js_content")),
            author=string_of(response.css("#js_name")) or _var(html, "nickname"),
            author_id=_var(html, "user_name"),
            published_at=published,
        )
