"""Generic article extraction: title, publication time, author, source and body from any news page.

The body is the block of the page that holds the most paragraph text once links are discounted
(the way readability does it), read in one pass over the parsed tree: fast enough for the crawl's
hot path, and it leaves navigation, related links and comments out. trafilatura reads the pages where
that finds too little. Chinese news pages need more rules: publication times with the hour in meta
tags or in a 时间/来源 line under the title, 来源：/作者： lines, and titles that carry the site name
after a separator.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import trafilatura
from lxml import etree
from parsel import Selector

from crawlers.dates import find_datetime, parse_datetime

_TIME_META = (
    "article:published_time", "og:article:published_time", "og:release_date", "pubdate", "publishdate",
    "PubDate", "publish_time", "publishtime", "datePublished", "weibo: article:create_at", "apub:time", "dc.date",
    "date", "dateUpdate", "dateModified",
)
# Pages that render the time with JavaScript still carry it in their inline data.
_SCRIPT_TIME = re.compile(
    r'\b(?:pubtime|pubTime|publish_time|publishTime|pubDate|publish_date)"?\s*[:=]\s*"([^"]{8,30})"')
_TIME_XPATH = " | ".join(
    f"//meta[@property='{name}' or @name='{name}' or @itemprop='{name}']/@content" for name in _TIME_META
)
_SOURCE = re.compile(r"来源\s*[:：]\s*([^\s|<>]{2,30})")
_AUTHOR = re.compile(r"(?:作者|记者|编辑|责任编辑)\s*[:：]\s*([^\s|<>]{2,20})")
_NAME = re.compile(r"[^\W\d_]")
_LABEL = re.compile(r"^(?:作者|记者|编辑|责任编辑)\s*[:：]\s*")
_MIN_BODY = 200
_AUTHOR_META = "//meta[@name='author' or @property='article:author' or @name='article:author']/@content"
_SITE_META = "//meta[@property='og:site_name' or @name='og:site_name']/@content"
_BLOCKS = frozenset({"p", "div", "section", "article", "td", "li", "blockquote", "pre", "h2", "h3", "h4", "center"})
_INLINE = frozenset({"a", "span", "strong", "b", "em", "i", "font", "u", "s", "del", "ins", "sup", "sub", "small", "big",
                     "code", "label", "mark", "cite", "abbr", "q", "time", "br", "img", "wbr", "var", "kbd", "tt"})
_SKIP = frozenset({"script", "style", "noscript", "textarea", "select", "option", "button", "iframe", "svg", "form",
                   "nav", "footer", "header", "aside"})
# Class and id words that mark the page's furniture, and its article.
_FURNITURE = re.compile(
    r"comment|\bcomm|font_?size|footer|\bfoot|\bnav|menu|related|recommend|sidebar|\bside|copyright|share|breadcrumb|\bhot|rank"
    r"|advert|\bads?\b|toolbar|login|subscribe|reply|\btags?\b|qrcode|popup|modal|toast|profile|author-intro",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"article|content|post|text|body|main|entry|rich_media|detail", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s*(?:_|\||-{1,2}|——|–)\s*")


def _first(selector: Selector, query: str) -> str:
    return " ".join((selector.xpath(query).get() or "").split())


def _title(selector: Selector, found: str | None) -> str:
    for query in ("//meta[@property='og:title']/@content", "(//h1)[1]//text()", "//title/text()"):
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


def _hint(element: etree._Element) -> float:
    """How much a block's class and id say it is the article (> 1) or the page's furniture (< 1)."""
    words = f"{element.get('class', '')} {element.get('id', '')}"
    if not words.strip():
        return 1.0
    if _ARTICLE.search(words):
        return 1.5
    return 0.2 if _FURNITURE.search(words) else 1.0


def _own_text(block: etree._Element) -> tuple[str, int]:
    """A block's own text (its inline children's included, nested blocks' not) and how much of it is links."""
    parts = [block.text or ""]
    links = 0
    for child in block:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _INLINE:
            text = "".join(child.itertext())
            parts.append(text)
            links += len(text) if tag == "a" else sum(len("".join(a.itertext())) for a in child.iter("a"))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split()), links


def _main_text(root: etree._Element) -> str:
    """The paragraphs of the block that holds the most text that is not links."""
    blocks: list[tuple[etree._Element, str, int]] = []
    scores: dict[etree._Element, float] = {}
    skipped: set[etree._Element] = set()
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        parent = element.getparent()
        if tag in _SKIP or (parent is not None and parent in skipped):
            skipped.add(element)
            continue
        if tag not in _BLOCKS:
            continue
        text, links = _own_text(element)
        if not text:
            continue
        blocks.append((element, text, links))
        worth = len(text) - 2 * links
        if worth <= 0:
            continue
        # The paragraph's block gets its worth, the block around that half of it.
        for weight, holder in ((1.0, parent), (0.5, parent.getparent() if parent is not None else None)):
            if holder is not None:
                scores[holder] = scores.get(holder, 0.0) + weight * worth
    if not scores:
        return ""
    best = max(scores, key=lambda e: scores[e] * _hint(e))
    inside = set(best.iter())
    kept = []
    for element, text, links in blocks:
        if element in inside and links * 2 < len(text) and not _in_furniture(element, best):
            kept.append(text)
    return "\n".join(kept)


def _in_furniture(element: etree._Element, top: etree._Element) -> bool:
    while element is not None and element is not top:
        if _hint(element) < 1:
            return True
        element = element.getparent()
    return False


def _body_text(page: Selector) -> str:
    """The page's text as one line, scripts and styles left out."""
    texts = page.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]").getall()
    return " ".join(" ".join(texts).split())


def site_name(page: Selector) -> str:
    """The site's own name, as its og:site_name gives it."""
    return _first(page, _SITE_META)


def page_outlet(page: Selector) -> str:
    """The outlet a page names: its og:site_name, else its 来源 line (which on a reprint names the original)."""
    if site := site_name(page):
        return site
    source = _SOURCE.search(_body_text(page)[:3000])
    return source.group(1) if source else ""


def extract_article(html: str, url: str = "") -> dict[str, Any]:
    """Best effort: fields that cannot be found are empty, never an exception."""
    selector = Selector(text=html or "<html></html>")
    content = _main_text(selector.root)
    doc = None
    if len(content) < _MIN_BODY:
        try:
            doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True, favor_recall=True)
        except Exception:  # trafilatura gives up on some broken markup; the rules below still apply
            doc = None
        found = (getattr(doc, "text", None) or "").strip()
        content = max(content, found, key=len)
    title = _title(selector, getattr(doc, "title", None))
    body_text = _body_text(selector)
    # Time, source and author lines sit just under the headline: look there first.
    at = body_text.find(title[:12]) if title else -1
    top = body_text[at: at + 600] if at >= 0 else body_text[:3000]
    source = _SOURCE.search(top) or _SOURCE.search(body_text)
    author = _AUTHOR.search(top)
    # A meta author is sometimes an e-mail template or a numeric id: only a name will do.
    meta_author = next((a.strip() for a in selector.xpath(_AUTHOR_META).getall()
                        if _NAME.search(a) and "@" not in a), "")
    author = author or _AUTHOR.search(content[-300:])
    return {
        "title": title,
        "published_at": _published(selector, top, getattr(doc, "date", None)),
        "author": _LABEL.sub("", (author.group(1) if author else None) or getattr(doc, "author", None) or meta_author),
        "source": (source.group(1) if source else None) or _first(selector, _SITE_META) or getattr(doc, "sitename", None) or "",
        "content": content,
    }
