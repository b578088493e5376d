"""A SearchQuery in Elasticsearch's query DSL.

Times compare as the embedded store compares them, in whole seconds: a bound matches its whole second.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.base import SearchQuery
from store.query import TextQuery


def text_query(text: TextQuery) -> dict[str, Any]:
    """The text part alone, as a bool query's clauses: every group must match one of its phrases, no excluded
    phrase may. A phrase's tokens must stand next to each other, in order, in `tokens` (lower-cased, as the
    field's analyzer lower-cases them)."""

    def phrase(tokens: tuple[str, ...]) -> dict[str, Any]:
        return {"match_phrase": {"tokens": " ".join(tokens).lower()}}

    must = [phrase(group[0].tokens) if len(group) == 1 else
            {"bool": {"should": [phrase(p.tokens) for p in group], "minimum_should_match": 1}}
            for group in text.must]
    return {"must": must, "must_not": [phrase(p.tokens) for p in text.exclude]}


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _range(field: str, lower: datetime | None, upper: datetime | None) -> dict[str, Any]:
    bounds: dict[str, Any] = {"format": "epoch_millis"}
    if lower:
        bounds["gte"] = _seconds(lower) * 1000
    if upper:
        bounds["lte"] = _seconds(upper) * 1000 + 999
    return {"range": {field: bounds}}


def query(search: SearchQuery) -> dict[str, Any]:
    clauses = text_query(search.text)
    filters = [{"term": {field: value}} for field, value in (
        ("sentiment.label", search.sentiment), ("source", search.source), ("platform", search.platform),
        ("schemes.name", search.scheme)) if value]
    if search.since or search.until:
        filters.append(_range("time", search.since, search.until))
    if search.crawled_since:
        filters.append(_range("crawled_at", search.crawled_since, None))
    return {"bool": {"must": clauses["must"] or [{"match_all": {}}], "must_not": clauses["must_not"],
                     "filter": filters}}
