"""The query language: what each piece of syntax parses to, and each mistake named with its position."""

from __future__ import annotations

import re

import pytest

from analysis.grams import query_grams
from store.query import And, Match, Not, Or, Query, QueryError, Value, parse_query

PROSE = {"needs", "never", "closed", "field", "fields", "excludes", "nothing", "between", "inside", "value",
         "letter", "digit", "character", "configured", "quote", "before", "after", "colon", "search", "exclude"}
SOURCES = {"source": ["baihua-news", "baihua-forum"], "scheme": ["beichen"]}


def parse(text: str) -> Query | None:
    return parse_query(text, query_grams, str.split, SOURCES)


def word(text: str, grams: tuple[str, ...], field: str = "text", chars: tuple[str, ...] = ()) -> Match:
    return Match(field, text, grams, chars, tuple(text.lower().split()))


def test_words_are_anded_and_or_binds_tighter() -> None:
    assert parse('北辰 "燃料 乙醇" -招聘 投诉 OR 举报') == And((
        word("北辰", ("北辰",)),
        word("燃料 乙醇", ("燃料", "料乙", "乙醇")),
        Not(word("招聘", ("招聘",))),
        Or((word("投诉", ("投诉",)), word("举报", ("举报",)))),
    ))


def test_parentheses_and_written_out_operators() -> None:
    assert parse("(投诉 OR 举报) 异味") == And((Or((word("投诉", ("投诉",)), word("举报", ("举报",)))),
                                                word("异味", ("异味",))))
    assert parse("异味 AND NOT 招聘") == parse("异味 -招聘") == And((word("异味", ("异味",)),
                                                                   Not(word("招聘", ("招聘",)))))
    assert parse("-(招聘 OR 广告)") == Not(Or((word("招聘", ("招聘",)), word("广告", ("广告",)))))
    assert parse("a OR (b OR c)") == Or((word("a", ("a",)), word("b", ("b",)), word("c", ("c",))))


def test_fields() -> None:
    assert parse('title:"环境局 回应"') == word("环境局 回应", ("环境", "境局", "局回", "回应"), "title")
    assert parse("author:李明") == word("李明", ("李明",), "author")
    assert parse("-title:转") == Not(word("转", (), "title", ("转",)))
    assert parse("title:(恶臭 OR 异味)") == Or((word("恶臭", ("恶臭",), "title"), word("异味", ("异味",), "title")))
    assert parse("source:baihua-forum platform:Forum sentiment:NEGATIVE scheme:beichen") == And((
        Value("source", "baihua-forum"), Value("platform", "forum"), Value("sentiment", "negative"),
        Value("scheme", "beichen")))
    assert parse("source_tier:individual") == parse("TIER:individual") == Value("tier", "individual")
    assert parse('region:"广东 深圳" keyword:异味') == And((Value("region", "广东 深圳"), Value("keyword", "异味")))
    assert parse("source:(baihua-news OR baihua-forum)") == Or((Value("source", "baihua-news"),
                                                               Value("source", "baihua-forum")))


def test_what_a_word_must_find() -> None:
    # One character alone is looked up among characters; with a word or number beside it, in order.
    assert parse("臭") == word("臭", (), chars=("臭",))
    assert parse("B站").grams == ("b", "站")  # type: ignore[union-attr]
    # Folded as analysis folds text: traditional to simplified, full-width to ASCII, lower case.
    assert parse("惡臭").grams == ("恶臭",)  # type: ignore[union-attr]
    assert parse("ＰＭ２.５").grams == ("pm", "2", "5")  # type: ignore[union-attr]
    # Chinese quotes, parentheses and colon are syntax too.
    assert parse("title：“环境局 回应”") == parse('title:"环境局 回应"')
    assert parse("（投诉 OR 举报）") == parse("(投诉 OR 举报)")
    # A hyphen inside a word, a colon after no field name, are part of the word.
    assert parse("COVID-19").grams == ("covid", "19")  # type: ignore[union-attr]
    assert parse("10:30").grams == ("10", "30")  # type: ignore[union-attr]


def test_empty_queries_find_everything() -> None:
    assert parse("") is None and parse("   ") is None


@pytest.mark.parametrize("text, position, said", [
    ('北辰 "燃料', 3, "quote is never closed"),
    ("(投诉 OR 举报", 0, "'(' is never closed"),
    ("投诉 OR 举报)", 8, "')' has no '('"),
    ("()", 0, "nothing to search between"),
    ("北辰 OR", 3, "OR needs something to search after it"),
    ("OR 北辰", 0, "OR needs something to search before it"),
    ("北辰 OR OR 异味", 3, "OR needs something to search after it"),
    ("(北辰 OR) 异味", 4, "OR needs something to search after it"),
    ("北辰 AND", 3, "AND needs something to search after it"),
    ("北辰 NOT", 3, "NOT needs something to exclude after it"),
    ("北辰 - 招聘", 3, "'-' excludes what is written right after it"),
    ("北辰 -", 3, "'-' excludes what is written right after it"),
    ("titel:北辰", 0, "unknown field 'titel'"),
    ("https://t.cn/abc", 0, "put text with a colon in quotes"),
    ("title: 北辰", 0, "title: needs a value right after the colon"),
    ("北辰 title:", 3, "title: needs a value"),
    ("title:(author:李明)", 7, "one field at a time"),
    ("sentiment:angry", 10, "'angry' is not one of: positive, neutral, negative, unknown"),
    ("tier:national", 5, "not one of: central, provincial"),
    ("source:weibo", 7, "'weibo' is not one of: baihua-news, baihua-forum"),
    ('北辰 "！？"', 3, 'has no letter, digit or character to search for'),
    ("北辰 ，", 3, "has no letter, digit or character"),
    ('""', 0, "has no letter, digit or character"),
])
def test_mistakes_are_named_with_their_position(text: str, position: int, said: str) -> None:
    with pytest.raises(QueryError, match=said.replace("(", r"\(").replace(")", r"\)")) as caught:
        parse(text)
    assert caught.value.position == position
    # The dashboard's readers get it in Chinese: only operators, field names and values stay as written.
    chinese = caught.value.chinese
    assert re.search(r"[\u4e00-\u9fff]", chinese) and not PROSE & set(re.findall(r"[a-z]+", chinese)), chinese


def test_without_configured_names_a_source_is_any_value() -> None:
    assert parse_query("source:weibo", query_grams, str.split) == Value("source", "weibo")
    with pytest.raises(QueryError, match="none configured"):
        parse_query("scheme:x", query_grams, str.split, {"scheme": []})
