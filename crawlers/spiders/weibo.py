"""Weibo search through the m.weibo.cn container API (JSON), newest posts first.

The API serves about 50 pages a query. When a query reaches `max_pages` with posts still inside the time
window, the rest of the window is split in two (Weibo's `timescope=custom:START:END`, hour by hour) and
each half is searched on its own.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import scrapy
from w3lib.html import remove_tags, replace_entities

from crawlers.dates import parse_datetime
from crawlers.items import PostItem
from crawlers.numbers import parse_count
from crawlers.spiders import SourceSpider
from models import now

API = "https://m.weibo.cn/api/container/getIndex"
HOUR = timedelta(hours=1)
Window = tuple[datetime, datetime]  # first and last hour, both included, as timescope reads them

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Emoticons are images; their alt text ([怒], [泪]) carries sentiment. The API writes it quoted or not.
_EMOTICON = re.compile(r"""<img[^>]*\balt=(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))[^>]*>""", re.IGNORECASE)


def _text(html: str) -> str:
    text = _EMOTICON.sub(lambda m: m[1] or m[2] or m[3] or "", _BREAK.sub("\n", html))
    return replace_entities(remove_tags(text)).strip()


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _timescope(window: Window) -> str:
    return ":".join(f"{h:%Y-%m-%d}-{h.hour}" for h in window)


def _mblogs(cards: Any) -> Iterator[dict[str, Any]]:
    """Posts are cards of type 9 (a number, or the string "9" in older answers), at the top level or inside a
    card_group."""
    for card in cards if isinstance(cards, list) else []:
        if not isinstance(card, dict):
            continue
        if str(card.get("card_type")) == "9" and isinstance(card.get("mblog"), dict):
            yield card["mblog"]
        yield from _mblogs(card.get("card_group"))


def _container(answer: Any) -> dict[str, Any] | None:
    """The part of an API answer that holds `cards`: `data` today ({"ok": 1, "data": {"cards": …}}), the
    answer itself in the older shape still served ({"cardlistInfo": …, "cards": …}); None for anything else."""
    if not isinstance(answer, dict):
        return None
    inner = answer.get("data")
    container = inner if isinstance(inner, dict) and "cards" in inner else answer
    return container if isinstance(container.get("cards"), list) else None


class WeiboSpider(SourceSpider):
    name = "weibo"

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for keyword in self.search_terms():
            # Never filtered: a resumed job fetches the first page again, its saved queue holds the later ones.
            yield self.search(keyword, None, 1, dont_filter=True)

    def search(self, keyword: str, window: Window | None, page: int, since_id: Any = None,
               dont_filter: bool = False) -> scrapy.Request:
        query = f"type=61&q={keyword}"  # type=61: real-time, newest first
        if window:
            query += f"&timescope=custom:{_timescope(window)}"
        params: dict[str, Any] = {"containerid": f"100103{query}", "page_type": "searchall", "page": page}
        if since_id:
            params["since_id"] = since_id
        return self.request(f"{self.source.url or API}?{urlencode(params)}", self.parse, dont_filter=dont_filter,
                            cb_kwargs={"keyword": keyword, "window": window, "page": page})

    def parse(self, response: scrapy.http.Response, keyword: str = "", window: Window | None = None, page: int = 1,
              **kwargs: Any) -> Iterator[Any]:
        answer = self.read_json(response)
        container = _container(answer)
        if container is None:
            if answer is not None:
                self.parse_failed(response.url, "not a Weibo search response (no `cards`, neither in `data` nor "
                                                "at the top)")
            return
        cards, info = container["cards"], container.get("cardlistInfo")
        info = info if isinstance(info, dict) else {}
        fresh, oldest = 0, None
        for mblog in _mblogs(cards):
            item = self.post(mblog, response.url)
            if item is None:
                continue
            published = item["published_at"]
            oldest = min(oldest or published, published) if published else oldest
            original = mblog.get("retweeted_status")
            if isinstance(original, dict) and (source := self.post(original, response.url)):
                item["repost_of"] = source["native_id"]
                # The original may be older than the window: it is what is being spread now all the same.
                if not self.known(source["native_id"], None):
                    yield self.collect(source["native_id"], source)
            if not self.known(item["native_id"], published):
                fresh += 1
                yield self.collect(item["native_id"], item)
        yield from self.more(response, keyword, window, page, fresh, oldest, info)

    def more(self, response: scrapy.http.Response, keyword: str, window: Window | None, page: int, fresh: int,
             oldest: datetime | None, info: dict[str, Any]) -> Iterator[scrapy.Request]:
        start = max(window[0], self.cutoff) if window else self.cutoff
        if not fresh:
            self.logger.info("%s: nothing new on page %d; stop paging", response.url, page)
            return
        if oldest is not None and oldest < start:
            return  # the window is paged through to its start
        if page < self.source.max_pages:
            yield self.search(keyword, window, page + 1, info.get("since_id"))
        elif oldest is not None:
            yield from self.split(keyword, _hour(start), _hour(oldest), response.url)

    def split(self, keyword: str, first: datetime, last: datetime, url: str) -> Iterator[scrapy.Request]:
        """The part of the window not yet paged through, [first, last] hour, as two halves."""
        if first >= last:
            self.logger.warning("%s: more than %d pages within one hour; the rest of that hour is not collected",
                                url, self.source.max_pages)
            return
        middle = first + HOUR * ((last - first) // HOUR // 2)
        self.logger.info("%s: page cap reached; searching %s and %s apart", url,
                         _timescope((first, middle)), _timescope((middle + HOUR, last)))
        yield self.search(keyword, (middle + HOUR, last), 1)
        yield self.search(keyword, (first, middle), 1)

    def post(self, mblog: dict[str, Any], url: str) -> PostItem | None:
        """Whatever a post's JSON holds; what is missing stays empty, with a warning."""
        native_id = str(mblog.get("mid") or mblog.get("id") or "")
        if not native_id:
            self.parse_failed(url, "a post without an id, skipped")
            return None
        user = mblog.get("user") if isinstance(mblog.get("user"), dict) else {}
        published = parse_datetime(mblog.get("created_at"), now())
        if published is None:
            self.parse_failed(url, f"post {native_id} has no readable time ({mblog.get('created_at')!r})")
        verified_type = user.get("verified_type")
        return self.item(
            url=f"https://m.weibo.cn/detail/{native_id}",
            native_id=native_id,
            title="",
            content=_text(str(mblog.get("text") or mblog.get("raw_text") or "")),
            author=str(user.get("screen_name") or ""),
            author_id=str(user.get("id") or ""),
            author_followers=parse_count(user.get("followers_count")),
            author_verified=bool(user.get("verified")),
            author_verified_type=verified_type if isinstance(verified_type, int) else None,
            published_at=published,
            metrics={key: parse_count(mblog.get(field)) or 0 for key, field in
                     (("reposts", "reposts_count"), ("comments", "comments_count"), ("likes", "attitudes_count"))},
            region=str(mblog.get("region_name") or "").removeprefix("发布于").strip(),
        )
