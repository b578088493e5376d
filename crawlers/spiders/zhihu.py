"""Zhihu search through its JSON search API (`/api/v4/search_v3`), the search page as a fallback.

The search page zhihu.com serves carries no results: its markup is a skeleton and its embedded initial data
(`<script id="js-initialData">`) an empty result list, filled in by scripts that call the search API. So the
spider asks the API, pages through `paging.next` until `paging.is_end`, and reads answers, articles, videos
(zvideo) and questions with their excerpt or full text, author, time and counts. The highlights (`<em>`) in
titles and excerpts are dropped.

What the API needs: the site's web client signs each call (`x-zse-93`, `x-zse-96`, computed by obfuscated
script from the path and the `d_c0` cookie) and sends the session cookies (`d_c0` for the device, `z_c0`
when logged in). The signature is out of our reach; a logged-in session's cookies, given in the source's
`cookies` (and any header in its `headers`), are what is known to work without it. A call the API will not
answer (a visitor's: HTTP 403 with `{"error": {"code": 10003, …}}`, as crawler projects report it) is said in
the log and the health record; the spider then reads the search page, whose markup or initial data held
results only in older layouts, and a page that holds none is a parse breakage with its URL, never a quiet
empty run. A genuine empty result (an API answer with `paging.is_end` and no
data, as for a rare keyword) is only logged.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import scrapy
from parsel import Selector
from w3lib.html import remove_tags, replace_entities

from crawlers import breakage
from crawlers.dates import parse_datetime
from crawlers.items import PostItem
from crawlers.numbers import parse_count
from crawlers.spiders import SearchSpider, string_of
from models import SHANGHAI

API = "https://www.zhihu.com/api/v4/search_v3?t=general&q={keyword}&correction=1&offset=0&limit=20"
PAGE = "/search?type=content&q={keyword}"  # the search page, on the API's host
# What the site's web client sends with its API calls (a source's `headers` go on top).
API_HEADERS = {"Accept": "application/json, text/plain, */*", "x-requested-with": "fetch", "x-api-version": "3.0.91"}
WEB = "https://www.zhihu.com"

_ID = re.compile(r"/(answer|p|zvideo)/(\d+)")
_KIND = {"answer": "answer", "p": "article", "zvideo": "zvideo"}
_POSTS = ("answer", "article", "zvideo", "question")  # result types that are posts; people, topics … are not
_TIME_LABEL = re.compile(r"^(?:发布于|编辑于)\s*")
# Block ends become line breaks, so that a post's paragraphs stay apart once the tags are gone.
_BLOCK_END = re.compile(r"<br\s*/?>|</(?:p|div|h[1-6]|li|pre|blockquote|figure)>", re.IGNORECASE)


def _stamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, SHANGHAI) if isinstance(value, int | float) and value > 0 else None


def _text(html: Any) -> str:
    """Text of an HTML fragment (an excerpt, a title with <em> highlights, a post's content), a line a paragraph."""
    text = replace_entities(remove_tags(_BLOCK_END.sub("\n", str(html or ""))))
    return "\n".join(line for line in (" ".join(part.split()) for part in text.splitlines()) if line)


def _is_api(url: str) -> bool:
    return urlsplit(url).path.endswith("/search_v3")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _where(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    """A search result's own address and its title."""
    question = _dict(obj.get("question"))
    if kind == "answer":
        return f"{WEB}/question/{question.get('id')}/answer/{obj['id']}", _text(obj.get("title") or question.get("name"))
    if kind == "article":
        return f"https://zhuanlan.zhihu.com/p/{obj['id']}", _text(obj.get("title"))
    if kind == "zvideo":
        return f"{WEB}/zvideo/{obj['id']}", _text(obj.get("title"))
    return f"{WEB}/question/{obj['id']}", _text(obj.get("name") or obj.get("title"))


class ZhihuSpider(SearchSpider):
    name = "zhihu"
    search_url = API

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for keyword in self.search_terms():
            url = (self.source.url or self.search_url).format(keyword=quote(keyword))
            # Never filtered: a resumed job asks again for the first page, its saved queue holds the later ones.
            yield self.request(url, self.parse, errback=self.refused, dont_filter=True, cb_kwargs={"page": 1})

    def request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        return super().request(url, callback, headers=API_HEADERS if _is_api(url) else None, **kwargs)

    def parse(self, response: scrapy.http.Response, page: int = 1, refused: str = "", **kwargs: Any) -> Iterator[Any]:
        kind = breakage.content_kind(response)
        if kind == "json":
            yield from self.from_api(response, page)
        elif kind == "html":
            yield from self.from_page(response, refused)
        else:
            self.parse_failed(response.url, "neither the search API's JSON nor a search page")

    # ---- the search API ----

    def from_api(self, response: scrapy.http.TextResponse, page: int) -> Iterator[Any]:
        data = self.read_json(response)
        if data is None:
            return
        if not isinstance(data, dict):
            self.parse_failed(response.url, "not a search API answer")
            return
        if data.get("error"):
            yield from self.fall_back(response.url, json.dumps(data["error"], ensure_ascii=False))
            return
        results, paging = data.get("data"), _dict(data.get("paging"))
        if not isinstance(results, list):
            self.parse_failed(response.url, "a search API answer without a result list (`data`)")
            return
        items = [item for item in (self.result(entry, response.url) for entry in results) if item]
        if not results and paging.get("is_end"):
            self.logger.info("%s: no results", response.url)  # a rare keyword, not a broken page
            return
        if not items:
            kinds = Counter(str(_dict(_dict(e).get("object")).get("type") or _dict(e).get("type")) for e in results)
            found = ", ".join(f"{kind} x{n}" for kind, n in kinds.items())
            self.parse_failed(response.url, f"no post among {len(results)} results ({found})" if results
                              else "an empty result list, though the answer says more follow")
            return
        fresh = 0
        for item in items:
            if not self.known(item["native_id"], item.get("published_at")):
                fresh += 1
                yield self.collect(item["native_id"], item)
        if not paging.get("is_end"):
            yield from self.next_page(response, paging.get("next"), page, fresh)

    def result(self, entry: Any, url: str) -> PostItem | None:
        """One search result as a post; None for what is not a post (people, topics, related searches, ads)."""
        obj = _dict(_dict(entry).get("object"))
        kind = str(obj.get("type") or "")
        if kind not in _POSTS:
            return None
        if not obj.get("id"):
            self.parse_failed(url, f"a {kind} result without an id, skipped")
            return None
        link, title = _where(kind, obj)
        author = _dict(obj.get("author"))
        return self.item(
            url=link, native_id=f"{kind}:{obj['id']}", title=title,
            content=_text(obj.get("content")) or _text(obj.get("excerpt") or obj.get("description")),
            author=_text(author.get("name")), author_id=str(author.get("url_token") or ""),
            author_followers=parse_count(author.get("follower_count")),
            published_at=_stamp(obj.get("created_time") or obj.get("created") or obj.get("created_at")
                                or obj.get("published_at")),
            # A question's replies are its answers.
            metrics={"likes": parse_count(obj.get("voteup_count")) or 0,
                     "comments": parse_count(obj.get("comment_count", obj.get("answer_count"))) or 0},
        )

    def refused(self, failure: Any) -> Iterator[scrapy.Request]:
        """The API refused the call (HTTP 401, 403 …): say why, and read the search page instead."""
        response = getattr(failure.value, "response", None)
        if response is None:
            return  # a network failure: recorded by the breakage middleware, and the page would fail alike
        if response.status == 401:
            breakage.record(self.crawler.stats, breakage.LOGIN, failure.request.url)
        answer = response.text[:300] if breakage.content_kind(response) else ""
        yield from self.fall_back(failure.request.url, f"HTTP {response.status} {answer}".strip())

    def fall_back(self, url: str, why: str) -> Iterator[scrapy.Request]:
        """After the API refused: the search page for the same keyword (the only other place results were)."""
        keyword = parse_qs(urlsplit(url).query).get("q", [""])[0]
        if not _is_api(url) or not keyword:
            self.parse_failed(url, f"refused: {why}")
            return
        self.logger.warning("%s: the search API refused (%s); reading the search page instead. The API wants the "
                            "cookies of a logged-in session (z_c0, d_c0) in the source's `cookies`", url, why)
        yield self.request(urljoin(url, PAGE.format(keyword=quote(keyword))), self.parse, dont_filter=True,
                           cb_kwargs={"refused": why})

    # ---- the search page ----

    def from_page(self, response: scrapy.http.TextResponse, refused: str) -> Iterator[Any]:
        page = Selector(text=response.text)
        found = list(self.from_markup(response, page)) or list(self.from_data(response, page))
        if not found:
            shape = ("its initial data holds no results" if page.css("script#js-initialData")
                     else "not a Zhihu search page (no results in its markup, no initial data)")
            self.parse_failed(response.url, f"{shape}; results come from the search API"
                              + (f", which refused: {refused}" if refused else ""))
        for item in found:
            if not self.known(item["native_id"], item.get("published_at")):
                yield self.collect(item["native_id"], item)

    def from_markup(self, response: scrapy.http.TextResponse, page: Selector) -> Iterator[PostItem]:
        """Results rendered in the page, as older layouts (to 2019) served them."""
        for result in page.css(".List-item .ContentItem"):
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

    def from_data(self, response: scrapy.http.TextResponse, page: Selector) -> Iterator[PostItem]:
        """Answers and articles in the page's initial data, where a layout put them there."""
        blob = page.css("script#js-initialData::text").get()
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
                author = _dict(entry.get("author"))
                question = _dict(entry.get("question"))
                url = entry.get("url") if kind == "article" else f"/question/{question.get('id')}/answer/{key}"
                yield self.item(
                    url=response.urljoin(str(url or f"/p/{key}")), native_id=f"{kind}:{key}",
                    title=_text(entry.get("title") or question.get("title")),
                    content=_text(entry.get("content") or entry.get("excerpt")),
                    author=str(author.get("name") or ""), author_id=str(author.get("urlToken") or ""),
                    author_followers=parse_count(author.get("followerCount")),
                    published_at=_stamp(entry.get("createdTime") or entry.get("created")),
                    metrics={"likes": parse_count(entry.get("voteupCount")) or 0,
                             "comments": parse_count(entry.get("commentCount")) or 0},
                )
