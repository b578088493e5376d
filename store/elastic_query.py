"""The query tree (store.query) as Elasticsearch query DSL, for the Elasticsearch backend.

Pure: no client, no server. Field names are those of `store/elastic/posts.mappings.json`; the gram,
character and token fields hold what `store.text.search_fields` gives for a post, so the answers are the
embedded store's: a word is a phrase of grams, one character alone a term among the characters, a whole
word adds WHOLE_WORD_BONUS to the score.
"""

from __future__ import annotations

from typing import Any

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
