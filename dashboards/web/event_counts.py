"""An event's sentiment split as its posts are labelled now.

Analysis counts an event's posts by sentiment as they arrive; an analyst's correction changes a post's label
afterwards, and the running analyser would write its own counts over any fix kept on the event. The pages count
the event's posts in the store instead, so a correction shows in the event's figures at once.
"""

from __future__ import annotations

from models import Event
from store.base import SearchQuery, Store


def labelled_now(store: Store, event: Event) -> Event:
    counts = dict(store.breakdown(SearchQuery(event_id=event.id), "sentiment", size=3))
    if unknown := event.by_sentiment.get("unknown", 0):  # posts analysis could not score keep their count
        counts["unknown"] = unknown
    return event.model_copy(update={"by_sentiment": counts})
