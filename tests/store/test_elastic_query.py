"""The query tree as Elasticsearch query DSL, against the fields of store/elastic/posts.mappings.json."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.grams import query_grams
from store.elastic.dsl import VALUE_FIELDS, to_elastic
from store.query import WHOLE_WORD_BONUS, parse_query
from store.text import GRAM_FIELDS, TOKENS

MAPPING = Path(__file__).resolve().parents[2] / "store" / "elastic" / "posts.mappings.json"


def dsl(text: str) -> dict:
    query = parse_query(text, query_grams, str.split)
    assert query is not None
    return to_elastic(query)


def whole(words: str) -> dict:
    return {"constant_score": {"filter": {"match_phrase": {"tokens": words}}, "boost": WHOLE_WORD_BONUS}}


def test_a_word_is_a_phrase_of_grams_and_a_whole_word_scores_more() -> None:
    assert dsl("北辰燃料") == {"bool": {"must": [{"match_phrase": {"grams": "北辰 辰燃 燃料"}}],
                                        "should": [whole("北辰燃料")]}}
    assert dsl("臭") == {"bool": {"must": [{"term": {"chars": "臭"}}], "should": [whole("臭")]}}
    assert dsl("title:B站") == {"match_phrase": {"title_grams": "b 站"}}
    assert dsl("author:李") == {"term": {"author_chars": "李"}}


def test_and_or_not_and_values() -> None:
    assert dsl("title:恶臭 -source:forum (sentiment:negative OR tier:individual)") == {"bool": {
        "must": [
            {"match_phrase": {"title_grams": "恶臭"}},
            {"bool": {"should": [{"term": {"sentiment.label": "negative"}}, {"term": {"source_tier": "individual"}}],
                      "minimum_should_match": 1}},
        ],
        "must_not": [{"term": {"source": "forum"}}],
    }}
    assert dsl("-platform:weibo") == {"bool": {"must_not": [{"term": {"platform": "weibo"}}]}}
    assert dsl("scheme:beichen OR -keyword:招聘") == {"bool": {"should": [
        {"term": {"schemes.name": "beichen"}}, {"bool": {"must_not": [{"term": {"keywords": "招聘"}}]}},
    ], "minimum_should_match": 1}}
    assert dsl('region:"广东 深圳"') == {"term": {"region": "广东 深圳"}}


def test_a_post_without_sentiment_is_one_without_a_label() -> None:
    assert dsl("sentiment:unknown") == {"bool": {"must_not": [{"exists": {"field": "sentiment.label"}}]}}


def test_every_field_it_names_is_in_the_mapping() -> None:
    properties = json.loads(MAPPING.read_text(encoding="utf-8"))["properties"]

    def mapped(path: str) -> dict:
        node = {"properties": properties}
        for part in path.split("."):
            node = node["properties"][part]
        return node

    for grams, chars in GRAM_FIELDS.values():
        assert mapped(grams) == {"type": "text", "analyzer": "whitespace"}  # positions, for phrases
        assert mapped(chars) == {"type": "text", "analyzer": "whitespace", "index_options": "freqs"}
    # jieba's words, split on whitespace as the embedded store splits them, lower-cased as it lower-cases them
    analyzer = json.loads((MAPPING.parent / "posts.settings.json").read_text(encoding="utf-8"))["analysis"][
        "analyzer"][mapped(TOKENS)["analyzer"]]
    assert analyzer == {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
    for path in VALUE_FIELDS.values():
        assert mapped(path)["type"] == "keyword"
