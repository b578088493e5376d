"""A SearchQuery in Elasticsearch's query DSL. Pure: no client, no server.

Field names are those of `store/elastic/posts.mappings.json`; the gram, character and token fields hold what
`store.text.search_fields` gives for a post, so the answers are the embedded store's: a word is a phrase of
grams, one character alone a term among the characters, a whole word adds WHOLE_WORD_BONUS to the score.
Times compare as the embedded store compares them, in whole seconds: a bound matches its whole second.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.base import SearchQuery
from store.query import WHOLE_WORD_BONUS, And, Match, Not, Or, Query, Value
from store.text import GRAM_FIELDS, TOKENS


Dsl = dict[str, Any]

VALUE_FIELDS = {
    "source": "source", "platform": "platform", "sentiment": "sentiment.label", "scheme": "schemes.name",
    "tier": "source_tier", "region": "region", "keyword": "keywords",
}


def _sequence(field: str, terms: tuple[str, ...]) -> Dsl:
    return {"match_phrase": {field: " ".join(terms)}}


def _match(match: Match) -> Dsl:
    grams, chars = GRAM_FIELDS[match.field]
    if match.chars:
        found = _all([{"term": {chars: c}} for c in match.chars], [])
    else:
        found = _sequence(grams, match.grams)
    if match.field != "text" or not match.words:
        return found
    whole = {"constant_score": {"filter": _sequence(TOKENS, match.words), "boost": WHOLE_WORD_BONUS}}
    return {"bool": {"must": [found], "should": [whole]}}


def _value(value: Value) -> Dsl:
    if value.field == "sentiment" and value.value == "unknown":  # a post without sentiment has no label
        return {"bool": {"must_not": [{"exists": {"field": VALUE_FIELDS["sentiment"]}}]}}
    return {"term": {VALUE_FIELDS[value.field]: value.value}}


def _all(must: list[Dsl], must_not: list[Dsl]) -> Dsl:
    if len(must) == 1 and not must_not:
        return must[0]
    return {"bool": {key: clauses for key, clauses in (("must", must), ("must_not", must_not)) if clauses}}


def to_elastic(node: Query) -> Dsl:
    """The query DSL of a query tree; a bool query of only must_not clauses matches every other post."""
    if isinstance(node, Match):
        return _match(node)
    if isinstance(node, Value):
        return _value(node)
    if isinstance(node, Or):
        return {"bool": {"should": [to_elastic(n) for n in node.nodes], "minimum_should_match": 1}}
    parts = node.nodes if isinstance(node, And) else (node,)
    return _all([to_elastic(n) for n in parts if not isinstance(n, Not)],
                [to_elastic(n.node) for n in parts if isinstance(n, Not)])


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
    filters = [{"term": {field: value}} for field, value in (
        ("sentiment.label", search.sentiment), ("source", search.source), ("platform", search.platform),
        ("schemes.name", search.scheme), ("event_id", search.event_id), ("dup_of", search.dup_of)) if value]
    if search.since or search.until:
        filters.append(_range("time", search.since, search.until))
    if search.crawled_since:  # crawled, or corrected by an analyst, since
        filters.append({"bool": {"should": [_range("crawled_at", search.crawled_since, None),
                                            _range("correction.at", search.crawled_since, None)],
                                 "minimum_should_match": 1}})
    return {"bool": {"must": [to_elastic(search.text) if search.text else {"match_all": {}}], "filter": filters}}
