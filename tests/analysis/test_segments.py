"""Mentions, links, emoticons and repost chains in Weibo-shaped text: a name is dropped, never the post's words."""

from __future__ import annotations

import pytest

from analysis.normalize import normalize, to_simplified
from analysis.pipeline import Analyzer
from analysis.segments import segment
from analysis.tokens import Tokenizer
from models import Post


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


def _segments(text: str, tokenizer: Tokenizer) -> list[tuple[bool, str, list[str]]]:
    return [(s.repost, " ".join(s.text.split()), s.emoticons)
            for s in segment(to_simplified(normalize(text)), tokenizer)]


def _analyse(analyzer: Analyzer, text: str) -> Post:
    return analyzer.analyse(Post(id="m", platform="weibo", source="test", url="", content=text))


@pytest.mark.parametrize("text", [
    "@张三这家工厂排污严重太恶心了我要投诉",  # a reply as typed: no space, no colon
    "@张三这家工厂排污严重，太恶心了，我要投诉",  # a name cannot be told from the words before a comma
    "回复@李四:这家工厂排污严重太恶心了我要投诉",
    "回复@李四：这家工厂排污严重太恶心了我要投诉",  # full-width colon
    "＠李四：这家工厂排污严重太恶心了我要投诉",  # full-width @
    "@王五 这家工厂排污严重太恶心了我要投诉",
    "@张三[怒]这家工厂排污严重太恶心了我要投诉",
    "@張三這家工廠排污嚴重太噁心了我要投訴",  # traditional characters
    "@张三@李四 这家工厂排污严重太恶心了我要投诉",
    "这家工厂排污严重太恶心了我要投诉@张三",
    "@张三这家工厂排污严重太恶心了我要投诉http://t.cn/A6abcdef",
    "http://t.cn/A6abcdef这家工厂排污严重太恶心了我要投诉",  # a link ends where the Chinese begins
    "找abc@example.com这家工厂排污严重太恶心了我要投诉",  # an e-mail address is no mention
])
def test_a_mention_or_link_never_takes_the_posts_words(analyzer: Analyzer, text: str) -> None:
    post = _analyse(analyzer, text)
    assert {"工厂", "排污", "恶心", "投诉"} <= set(post.tokens)
    assert {"工厂", "排污"} <= set(post.keywords)
    assert post.sentiment is not None and post.sentiment.label == "negative"
    assert post.sentiment.score < 0.35  # the negative rule's default threshold


@pytest.mark.parametrize(("text", "name"), [
    ("回复@李四:这家工厂排污", "李四"),
    ("回复@李四：这家工厂排污", "李四"),
    ("@王五 这家工厂排污", "王五"),
    ("@weibo_user-2 这家工厂排污", "weibo_user-2"),
    ("@张三@李四 这家工厂排污", "张三"),
    ("@张三@李四 这家工厂排污", "李四"),
    ("这家工厂排污 @PinkPeach1013", "PinkPeach1013"),  # Latin letters hold no Chinese words: any end is theirs
    ("@bob_2，这家工厂排污", "bob_2"),
])
def test_a_name_that_visibly_ends_is_dropped(analyzer: Analyzer, text: str, name: str) -> None:
    post = _analyse(analyzer, text)
    assert name.lower() not in post.tokens and name not in post.keywords
    assert {"工厂", "排污"} <= set(post.tokens)


def test_a_mention_in_the_middle_keeps_what_follows(analyzer: Analyzer, tokenizer: Tokenizer) -> None:
    [(_, text, _)] = _segments("我和@小明一起去看了", tokenizer)
    assert text == "我和 小明一起去看了"
    assert _segments("这家工厂排污@张三", tokenizer)[0][1] == "这家工厂排污 张三"  # a name at the end stays
    assert {"一起", "看"} <= set(_analyse(analyzer, "我和@小明一起去看了").tokens)


def test_repost_chains(tokenizer: Tokenizer) -> None:
    assert _segments("//@赵六:转发微博", tokenizer) == [(False, "", []), (True, "转发微博", [])]
    assert _segments("好恶心[怒]//@A:太臭了//@B：北辰排污", tokenizer) == [
        (False, "好恶心", ["[怒]"]), (True, "太臭了", []), (True, "北辰排污", [])]
    # Without a colon there is no chain to split, and the words stay.
    assert _segments("//@赵六转发微博", tokenizer) == [(False, "//@赵六转发微博", [])]
    # A name is at most 30 units, a Chinese character counting two: longer is the post's own words.
    assert len(_segments("好//@这家工厂排污严重太恶心了我要投诉北辰乙醇:转发", tokenizer)) == 1


def test_a_repost_chain_keeps_every_links_words(analyzer: Analyzer) -> None:
    post = _analyse(analyzer, "好恶心//@A:太臭了//@B:北辰排污")
    assert {"恶心", "太臭", "北辰", "排污"} <= set(post.tokens) and not {"a", "b"} & set(post.tokens)
    assert post.sentiment is not None and post.sentiment.label == "negative"


@pytest.mark.parametrize("text", ["@张三 @李四 http://t.cn/A6abcdef", "@李四:", "//@赵六:", "！"])
def test_a_post_with_nothing_to_read_is_neutral_not_unscored(analyzer: Analyzer, text: str) -> None:
    post = _analyse(analyzer, text)
    assert post.sentiment is not None and post.sentiment.label == "neutral" and post.sentiment.score == 0.5
    assert analyzer.sentiment.score(text) == post.sentiment
