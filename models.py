"""The one data model that crosses every stage: crawl → analysis → store → alerts → dashboards.

Crawlers emit raw `PostItem` dicts; `Post.from_item` turns one into a `Post`; each later stage only
adds fields to it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator

SHANGHAI = ZoneInfo("Asia/Shanghai")

SentimentLabel = Literal["positive", "neutral", "negative"]
EventStatus = Literal["active", "cooling", "closed"]
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


class Correction(BaseModel):
    """An analyst's verdict on a post, kept beside what the model said. The post's own `sentiment.label` (and,
    for a post marked not relevant, its `schemes`) is the corrected one: that is what everything else reads."""

    sentiment: SentimentLabel | None = None  # None: the sentiment was not corrected
    relevant: bool | None = None  # False: not about the enterprise, so in no watch scheme; None: not judged
    by: str = Field(min_length=1, max_length=64)
    at: datetime
    note: str = Field(default="", max_length=1000)
    model: Sentiment | None = None  # what the model said (its latest analysis, kept current on a re-crawl)
    schemes: list[SchemeMatch] = Field(default_factory=list)  # the matches the post loses when not relevant

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return aware(value)

    def merged(self, earlier: Correction | None) -> Correction:
        """This correction, keeping what `earlier` said about what this one leaves open."""
        if earlier is None:
            return self
        return self.model_copy(update={"sentiment": self.sentiment or earlier.sentiment,
                                       "relevant": earlier.relevant if self.relevant is None else self.relevant})


class Post(BaseModel):
    id: str
    platform: str
    source: str  # the configured source's id, for machines
    outlet: str = ""  # the outlet's own name, for people (白桦新闻网); empty: unknown, show the source
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
    official: bool = False  # a statement by an official source (analysis: [official])
    correction: Correction | None = None  # an analyst's, applied: see with_correction

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

    def analysed(self) -> Post:
        """The post as the analysis left it: any correction taken back out."""
        c = self.correction
        if c is None:
            return self
        return self.model_copy(update={"correction": None, "sentiment": c.model,
                                       "schemes": c.schemes if c.relevant is False else self.schemes})

    def with_correction(self, correction: Correction | None) -> Post:
        """The analysed post with `correction` applied (None: none). The correction keeps the model's verdict,
        and the scheme matches a post marked not relevant loses, so it can be applied again to a later analysis
        of the post (a re-crawl) and taken back out."""
        base = self.analysed()
        if correction is None:
            return base
        irrelevant = correction.relevant is False
        kept = correction.model_copy(update={"model": base.sentiment, "schemes": base.schemes if irrelevant else []})
        update: dict[str, Any] = {"correction": kept}
        if correction.sentiment:
            # The score stays the model's lean (0 negative … 1 positive); only the verdict changes.
            update["sentiment"] = Sentiment(label=correction.sentiment,
                                            score=base.sentiment.score if base.sentiment else 0.5)
        if irrelevant:
            update["schemes"] = []
        return base.model_copy(update=update)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Post:
        """Build a Post from a crawler's PostItem (see crawlers.items)."""
        platform = item.get("platform") or "news"
        url = item["url"]
        return cls(
            id=post_id(platform, url, item.get("native_id")),
            platform=platform,
            source=item["source"],
            outlet=item.get("outlet") or "",
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


# An event is active while posts keep coming, cooling once they stop, closed when its posts can no longer join it.
ACTIVE_FOR = timedelta(hours=6)
COOLING_FOR = timedelta(hours=72)


class Event(BaseModel):
    """Posts about one story, as analysis groups them (analysis.events) and the store keeps them."""

    id: str  # "evt:" + 16 hex, from its first post's id
    title: str  # the first post's title, else the first 60 characters of its text
    keywords: list[str] = Field(default_factory=list)  # heaviest first; watch-scheme terms and boilerplate left out
    schemes: list[str] = Field(default_factory=list)
    first_post: str
    first_poster: str  # the first post's author name, else its outlet, else its source
    first_seen: datetime
    last_seen: datetime
    posts: int = 0
    by_platform: dict[str, int] = Field(default_factory=dict)
    by_tier: dict[str, int] = Field(default_factory=dict)
    by_sentiment: dict[str, int] = Field(default_factory=dict)  # positive / neutral / negative / unknown
    by_source: dict[str, int] = Field(default_factory=dict)  # configured source id → posts
    by_outlet: dict[str, int] = Field(default_factory=dict)  # Post.outlet (else its source id) → posts
    per_10min: dict[str, int] = Field(default_factory=dict)  # bucket start (ISO 8601, Asia/Shanghai) → posts
    per_hour: dict[str, int] = Field(default_factory=dict)
    growth: int = 0  # posts in the latest hour minus the hour before
    risk: float = 0.0  # the highest of its posts' risk
    status: EventStatus = "active"  # as of updated_at: see status_at
    responses: list[str] = Field(default_factory=list)  # ids of its posts that are official statements
    terms: dict[str, float] = Field(default_factory=dict)  # the clustering centroid, so clustering resumes
    updated_at: datetime

    @field_validator("first_seen", "last_seen", "updated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return aware(value)

    def status_at(self, moment: datetime) -> EventStatus:
        """Active under 6 hours after its last post, cooling under 72 hours, closed after."""
        quiet = moment - self.last_seen
        return "active" if quiet < ACTIVE_FOR else "cooling" if quiet < COOLING_FOR else "closed"


@dataclass(frozen=True)
class OutletNames:
    """The one rule for the name people read for where a post comes from: the outlet its crawl found, else its
    source's configured `display_name` (a post stored before the source had one), else the source's id."""

    display_names: Mapping[str, str] = field(default_factory=dict)  # source id → display_name

    def __call__(self, post: Post) -> str:
        return post.outlet or self.source(post.source)

    def source(self, source_id: str) -> str:
        """A configured source's name for people; also reads an outlet name (not a source id) back unchanged."""
        return self.display_names.get(source_id) or source_id

    def of_event(self, event: Event, size: int = 5) -> list[tuple[str, int]]:
        """The outlets of an event's posts with their posts, the most first (by source for events stored before
        events counted outlets)."""
        counts: Counter[str] = Counter()
        for key, n in (event.by_outlet or event.by_source).items():
            counts[self.source(key)] += n
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
