"""PostItem: the contract between spiders and everything after them (read by models.Post.from_item)."""

from __future__ import annotations

import scrapy


class PostItem(scrapy.Item):
    url = scrapy.Field()
    source = scrapy.Field()  # configured source name
    outlet = scrapy.Field()  # the outlet's own name: the source's display_name, else the feed's or page's
    platform = scrapy.Field()
    source_tier = scrapy.Field()
    native_id = scrapy.Field()  # the platform's own id, when it has one
    title = scrapy.Field()
    content = scrapy.Field()
    author = scrapy.Field()
    author_id = scrapy.Field()
    author_followers = scrapy.Field()
    author_verified = scrapy.Field()
    author_verified_type = scrapy.Field()  # Weibo: 0 a person's orange V, 1-7 organisations' blue V, -1 none
    published_at = scrapy.Field()  # aware datetime or ISO string; the clean pipeline makes it ISO
    crawled_at = scrapy.Field()
    metrics = scrapy.Field()  # {"reposts", "comments", "likes", "views"}
    region = scrapy.Field()
    repost_of = scrapy.Field()  # native id of the post this one reposts (emitted as an item of its own too)
