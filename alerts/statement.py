"""The draft statement (情况说明) of an alert: a Jinja template fed only with facts from the stored data.

Nothing is made up: a fact the data does not hold reaches the template as None and the shipped template
writes 【待核实】 in its place, for the officer to fill in after checking.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError, meta

import settings as config
from alerts.labels import PLATFORM_LABELS
from alerts.payload import outlet
from models import SHANGHAI, Event, Post, now
from store.base import Store

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "statement.txt.j2"
UNKNOWN = "【待核实】"
EXCERPT = 120
# Every name a template may use; a template that reads another is refused at start, not on the day it is needed.
FACTS = ("title", "alert_id", "drafted_at", "first", "posts", "platforms", "sources", "negative", "last_seen",
         "keywords", "responses", "contact", "unknown")


def when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def platform_name(platform: str) -> str:
    return PLATFORM_LABELS.get(platform, platform)


def post_facts(post: Post) -> dict[str, Any]:
    # The quote closes the template's sentence, which ends it: a full stop of its own would double it.
    excerpt = " ".join(post.content.split()).rstrip("。，；,; ")
    return {
        "time": when(post.time), "platform": platform_name(post.platform), "source": outlet(post),
        "author": post.author.name or None, "title": post.title or None,
        "excerpt": excerpt[:EXCERPT] + ("……" if len(excerpt) > EXCERPT else "") if excerpt else None,
        "url": post.url,
    }


def facts(alert: dict[str, Any], event: Event | None, posts: list[Post], responses: list[Post], contact: str,
          at: datetime) -> dict[str, Any]:
    """What the template may say. `posts` are the alert's posts when it has no stored event (older alerts),
    else at least the event's first post."""
    if event is not None:
        first = next((p for p in posts if p.id == event.first_post), None)
    else:
        first = min(posts, key=lambda p: p.time, default=None)
    if event is not None:
        by_platform, total = Counter(event.by_platform), event.posts
        sources, negative, last_seen = len(event.by_source), event.by_sentiment.get("negative", 0), event.last_seen
        keywords, title = event.keywords, event.title
    else:
        by_platform, total = Counter(p.platform for p in posts), len(posts)
        sources = len({p.source for p in posts})
        negative = sum(1 for p in posts if p.sentiment and p.sentiment.label == "negative")
        last_seen = max((p.time for p in posts), default=None)
        keywords = list(dict.fromkeys(k for p in posts for k in p.keywords))[:10]
        title = alert["title"]
    first_facts = post_facts(first) if first else None
    if first_facts and event is not None:
        first_facts["author"] = event.first_poster or first_facts["author"]
    return {
        "title": title, "alert_id": alert["id"], "drafted_at": when(at), "first": first_facts,
        "posts": total or None, "platforms": [(platform_name(name), n) for name, n in by_platform.most_common()],
        "sources": sources or None, "negative": negative if total else None, "last_seen": when(last_seen), "keywords": keywords,
        "responses": [post_facts(p) for p in sorted(responses, key=lambda p: p.time)],
        "contact": contact or None, "unknown": UNKNOWN,
    }


def _environment(folder: Path) -> Environment:
    # Plain text, not HTML: nothing is escaped, and a name the template misspells is an error, not a blank.
    return Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined, autoescape=False,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


class StatementWriter:
    """Renders the draft for an alert from the store's event and posts. Made at start: a template that does
    not compile, or reads a name it is not given, is a ConfigError then."""

    def __init__(self, store: Store, template: Path | None = None, contact: str = "") -> None:
        self.store = store
        self.contact = contact
        path = template or DEFAULT_TEMPLATE
        where = f"[alerts] statement_template {path}"
        environment = _environment(path.parent)
        try:
            source = path.read_text(encoding="utf-8")
            unknown = meta.find_undeclared_variables(environment.parse(source)) - set(FACTS)
            self.template = environment.get_template(path.name)
        except (OSError, UnicodeDecodeError) as exc:
            raise config.ConfigError(f"{where} cannot be read: {exc}") from None
        except TemplateSyntaxError as exc:
            raise config.ConfigError(f"{where}, line {exc.lineno}: {exc.message}") from None
        if unknown:
            raise config.ConfigError(f"{where} uses {', '.join(sorted(unknown))}, which it is not given; "
                                     f"a statement template may use: {', '.join(FACTS)}")
        try:  # the least a template meets: an alert of which nothing is known yet
            self.render_facts(facts({"id": 0, "title": ""}, None, [], [], "", now()))
        except TemplateError as exc:
            raise config.ConfigError(f"{where} fails on an alert with nothing known yet: {exc}") from None

    def render_facts(self, known: dict[str, Any]) -> str:
        return self.template.render(**known)

    def __call__(self, alert: dict[str, Any]) -> str:
        event = self.store.get_event(alert["event_id"]) if alert.get("event_id") else None
        if event is not None:
            event = self.store.labelled_now(event)  # an analyst's corrections count in the draft's figures
            posts = [p for p in [self.store.get(event.first_post)] if p is not None]
            responses = [p for p in map(self.store.get, event.responses) if p is not None]
        else:
            posts = [p for p in map(self.store.get, alert.get("post_ids") or []) if p is not None]
            responses = [p for p in posts if p.official]
        return self.render_facts(facts(alert, event, posts, responses, self.contact, now()))
