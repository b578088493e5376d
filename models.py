"""The one data model that crosses every stage: crawl → analysis → store → alerts → dashboards.

Crawlers emit raw `PostItem` dicts; `Post.from_item` turns one into a `Post`; each later stage only
adds fields to it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator

SHANGHAI = ZoneInfo("Asia/Shanghai")

SentimentLabel = Literal["positive", "neutral", "negative"]
SOURCE_TIERS = ("central", "provincial", "local_media", "industry", "self_media", "individual", "unknown")


def now() -> datetime:
    return datetime.now(SHANGHAI)


def aware(value: datetime) -> datetime:
    """Naive datetimes from Chinese sites are local time: read them as Asia/Shanghai."""
    if value.tzinfo is None:
        return value.replace(tzinfo=SHANGHAI)
    return value.astimezone(SHANGHAI)


def canonical_url(url: str) -> str:
    """Drop the fragment and lower-case scheme and host so one article has one id."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


# A link is written as a link only when it is plainly http(s): no space or control character anywhere, so no
# browser or mail client can read another scheme into it. The dashboard's script applies the same pattern.
WEB_LINK = re.compile(r"https?://[^\x00-\x20\x7f]+", re.IGNORECASE | re.ASCII)  # ASCII: "ſ" is no "s"


def web_link(url: str | None) -> str | None:
    """`url` if it may go into an href, else None (show it as text)."""
    return url if url and WEB_LINK.fullmatch(url) else None


def post_id(platform: str, url: str, native_id: str | None = None) -> str:
    if native_id:
        return f"{platform}:{native_id}"
    digest = hashlib.sha1(canonical_url(url).encode("utf-8")).hexdigest()[:20]
    return f"{platform}:{digest}"


class Author(BaseModel):
    name: str = ""
    id: str = ""
    followers: int | None = None
    verified: bool = False
    verified_type: int | None = None  # Weibo's: 0 a person, 1-7 organisations (government, media ...)


class Metrics(BaseModel):
    reposts: int = 0
    comments: int = 0
    likes: int = 0
    views: int = 0


class Sentiment(BaseModel):
    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0, description="P(positive)")


class SchemeMatch(BaseModel):
    name: str
    terms: list[str] = Field(default_factory=list)


class Post(BaseModel):
    id: str
    platform: str
    source: str
    source_tier: str = "unknown"
    url: str
    title: str = ""
    content: str = ""
    author: Author = Field(default_factory=Author)
    published_at: datetime | None = None
    crawled_at: datetime = Field(default_factory=now)
    metrics: Metrics = Field(default_factory=Metrics)
    region: str = ""
    repost_of: str | None = None  # id of the reposted post
    # Added by analysis.
    schemes: list[SchemeMatch] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    sentiment: Sentiment | None = None
    simhash: str | None = None
    dup_of: str | None = None
    event_id: str | None = None
    risk: float | None = None

    @field_validator("published_at", "crawled_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return aware(value) if value is not None else None

    @property
    def time(self) -> datetime:
        """When the post appeared, as well as we know it."""
        return self.published_at or self.crawled_at

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.content}" if self.title else self.content

    def scheme_names(self) -> list[str]:
        return [m.name for m in self.schemes]

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Post:
        """Build a Post from a crawler's PostItem (see crawlers.items)."""
        platform = item.get("platform") or "news"
        url = item["url"]
        return cls(
            id=post_id(platform, url, item.get("native_id")),
            platform=platform,
            source=item["source"],
            source_tier=item.get("source_tier") or "unknown",
            url=url,
            title=item.get("title") or "",
            content=item.get("content") or "",
            author=Author(
                name=item.get("author") or "",
                id=item.get("author_id") or "",
                followers=item.get("author_followers"),
                verified=bool(item.get("author_verified")),
                verified_type=item.get("author_verified_type"),
            ),
            published_at=item.get("published_at"),
            crawled_at=item.get("crawled_at") or now(),
            metrics=Metrics(**(item.get("metrics") or {})),
            region=item.get("region") or "",
            repost_of=post_id(platform, "", item["repost_of"]) if item.get("repost_of") else None,
        )
