"""Generic article extraction: title, publication time, author, source and body from any news page.

trafilatura finds the body and general metadata; Chinese news pages need more: publication times
with the hour in meta tags or in a 时间/来源 line under the title, 来源：/作者： lines, and titles that
carry the site name after a separator.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import trafilatura
from parsel import Selector

from crawlers.dates import find_datetime, parse_datetime

_TIME_META = (
    "article:published_time", "og:article:published_time", "og:release_date", "pubdate", "publishdate",
    "PubDate", "publish_time", "publishtime", "datePublished", "weibo: article:create_at", "apub:time", "dc.date",
    "date",
)
# Pages that render the time with JavaScript still carry it in their inline data.
_SCRIPT_TIME = re.compile(r'"(?:pubtime|pubTime|publish_time|publishTime|pubDate|publish_date)"\s*:\s*"([^"]{8,30})"')
_TIME_XPATH = " | ".join(
    f"//meta[@property='{name}' or @name='{name}' or @itemprop='{name}']/@content" for name in _TIME_META
)
_SOURCE = re.compile(r"来源\s*[:：]\s*([^\s|<>]{2,30})")
_AUTHOR = re.compile(r"(?:作者|记者|编辑|责任编辑)\s*[:：]\s*([^\s|<>]{2,20})")
_LABEL = re.compile(r"^(?:作者|记者|编辑|责任编辑)\s*[:：]\s*")
_MIN_BODY = 200
_SEPARATORS = re.compile(r"\s*(?:_|\||-{1,2}|——|–)\s*")


def _first(selector: Selector, query: str) -> str:
    return " ".join((selector.xpath(query).get() or "").split())


def _title(selector: Selector, found: str | None) -> str:
    for query in ("//meta[@property='og:title']/@content", "//h1[1]//text()", "//title/text()"):
        value = " ".join(" ".join(selector.xpath(query).getall()).split()) if "text()" in query else _first(selector, query)
        if len(value) >= 4:
            if query == "//title/text()":
                # "标题_新闻_网站名" → the longest part is the headline.
                value = max(_SEPARATORS.split(value), key=len)
            return value
    return found or ""


def _published(selector: Selector, text_near_top: str, found: str | None) -> datetime | None:
    values = selector.xpath(_TIME_XPATH).getall() + selector.xpath("//time/@datetime").getall()
    values.append(find_datetime(text_near_top))
    values += _SCRIPT_TIME.findall(" ".join(selector.xpath("//script/text()").getall()))
    values.append(found)
    candidates = [m for m in (v if isinstance(v, datetime) else parse_datetime(v) for v in values) if m]
    if not candidates:
        return None
    # Many pages give the bare date in one place and the hour in another: the one with the hour wins.
    return next((m for m in candidates if (m.hour, m.minute) != (0, 0)), candidates[0])


def _main_text(selector: Selector) -> str:
    """Fallback body: the element whose paragraphs hold the most text."""
    best, best_len = "", 0
    for parent in selector.xpath("//*[p]"):
        paragraphs = [" ".join(p.xpath(".//text()").getall()).strip() for p in parent.xpath("./p")]
        text = "\n".join(p for p in paragraphs if p)
        if len(text) > best_len:
            best, best_len = text, len(text)
    return best


def extract_article(html: str, url: str = "") -> dict[str, Any]:
    """Best effort: fields that cannot be found are empty, never an exception."""
    selector = Selector(text=html or "<html></html>")
    try:
        doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True, favor_recall=True)
    except Exception:  # trafilatura gives up on some broken markup; the rules below still apply
        doc = None
    title = _title(selector, getattr(doc, "title", None))
    body_text = " ".join(selector.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]").getall())
    body_text = " ".join(body_text.split())
    # Time, source and author lines sit just under the headline: look there first.
    at = body_text.find(title[:12]) if title else -1
    top = body_text[at: at + 600] if at >= 0 else body_text[:3000]
    source = _SOURCE.search(top) or _SOURCE.search(body_text)
    author = _AUTHOR.search(top)
    content = (getattr(doc, "text", None) or "").strip()
    return {
        "title": title,
        "published_at": _published(selector, top, getattr(doc, "date", None)),
        "author": _LABEL.sub("", (author.group(1) if author else None) or getattr(doc, "author", None) or ""),
        "source": (source.group(1) if source else None) or getattr(doc, "sitename", None) or "",
        "content": content if len(content) >= _MIN_BODY else max(content, _main_text(selector), key=len),
    }
