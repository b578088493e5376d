"""The analysts' query language, parsed into a small backend-neutral tree.

    北辰 异味               words are ANDed
    "燃料 乙醇"             a quoted phrase: its characters in this order, next to each other
    -招聘  -"招聘 启事"     excludes
    投诉 OR 举报            either; OR binds tighter than the space: 异味 投诉 OR 举报 = 异味 AND (投诉 OR 举报)
    (投诉 OR 举报) -招聘    parentheses group; AND and NOT may be written out (a AND NOT b = a -b)
    title:恶臭  author:李明  title:"环境局 回应"  -title:招聘  title:(恶臭 OR 异味)
                            in the title, or the author's name, only
    source:baihua-forum  platform:forum  sentiment:negative  scheme:beichen  tier:individual  region:北京
    keyword:异味            the post's field has exactly this value (tier: central, provincial, local_media,
                            industry, self_media, individual, unknown; sentiment: positive, neutral,
                            negative, unknown); source_tier: is tier:

A word or phrase finds every post whose title or text contains it, after the normalisation analysis applies
(traditional characters as simplified, full-width letters and digits as ASCII, lower case): 北辰 finds
北辰燃料乙醇, 臭 finds 很臭, 惡臭 finds 恶臭. Spaces and punctuation inside a phrase are not compared:
"北辰 回应" finds 北辰回应 and 北辰，回应. Latin words and numbers match whole (`iphone` finds iPhone15,
which reads as iphone 15, but `iph` does not). Chinese quotes, parentheses and colon (“” （） ：) work too.
Put text with a colon in quotes (`"http://t.cn/x"`): `name:` is read as a field.

A query that cannot be read raises QueryError, with the position (0-based) of the part that is wrong: an
unknown field, a quote or parenthesis never closed, OR with nothing on one side, a word with nothing to
search for (only punctuation), a value a field never has.

What a word must find is not this module's business: the caller passes the analysis stage's functions
(`grams` gives what a store's gram fields must hold, `words` the whole words that rank a post higher),
so the store looks up exactly what it indexed (store.text) and knows no Chinese itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field

from models import SOURCE_TIERS
from store.text import GRAM_FIELDS, tokens_text

# query word → (grams next to each other in order, or [] and one character alone)
QueryGrams = Callable[[str], tuple[list[str], list[str]]]
Tokenize = Callable[[str], list[str]]

# A match on a whole word adds this to the relevance score: posts where a query word is a word of its own
# (北辰 in 北辰公司) rank above posts where it is only part of a longer word (北辰燃料乙醇), then by BM25.
WHOLE_WORD_BONUS = 1000.0

VALUE_FIELDS = ("source", "platform", "sentiment", "scheme", "tier", "region", "keyword")
ALIASES = {"source_tier": "tier"}
FIELDS = ("title", "author", *VALUE_FIELDS)  # "text", the default, is not written out
CHOICES: dict[str, tuple[str, ...]] = {
    "sentiment": ("positive", "neutral", "negative", "unknown"),
    "tier": SOURCE_TIERS,
}
_LOWER_CASE = ("platform", "sentiment", "tier")  # vocabularies of lower-case names


class QueryError(ValueError):
    """A query that cannot be read; `position` is the 0-based index of the character where it goes wrong. The
    message is the command line's; `chinese` says the same for the dashboard's readers."""

    def __init__(self, message: str, position: int, chinese: str) -> None:
        super().__init__(message)
        self.position = position
        self.chinese = chinese


@dataclass(frozen=True)
class Match:
    """A word or phrase in a text field (`text`: title and content; `title`; `author`)."""

    field: str
    text: str  # as typed
    grams: tuple[str, ...]  # must appear next to each other, in this order, in the field's grams …
    chars: tuple[str, ...] = ()  # … or, for one character alone, among the field's characters
    words: tuple[str, ...] = ()  # whole words; a post that has them next to each other ranks higher
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Value:
    """A field with exactly this value (source, platform, sentiment, scheme, tier, region, keyword)."""

    field: str
    value: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    node: Query


@dataclass(frozen=True)
class And:
    nodes: tuple[Query, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Query, ...]


Query = Match | Value | Not | And | Or


def _and(nodes: list[Query]) -> Query:
    flat = tuple(n for node in nodes for n in (node.nodes if isinstance(node, And) else (node,)))
    return flat[0] if len(flat) == 1 else And(flat)


def _or(nodes: list[Query]) -> Query:
    flat = tuple(n for node in nodes for n in (node.nodes if isinstance(node, Or) else (node,)))
    return flat[0] if len(flat) == 1 else Or(flat)


def _not(node: Query) -> Query:
    return node.node if isinstance(node, Not) else Not(node)


# Chinese input methods type these; each stands for one character of the syntax, so positions stay the same.
_SYNTAX = str.maketrans({"“": '"', "”": '"', "＂": '"', "（": "(", "）": ")", "：": ":", "－": "-"})
_FIELD = re.compile(r"([A-Za-z_]+):")
_OPERATORS = ("OR", "AND", "NOT")
_WORD_END = re.compile(r'[\s()"]')


@dataclass(frozen=True)
class _Token:
    kind: str  # word, phrase, field, (, ), -, OR, AND, NOT
    text: str
    position: int


def _tokens(text: str) -> Iterator[_Token]:
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            yield _Token(c, c, i)
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QueryError("this quote is never closed", i, "引号没有闭合")
            yield _Token("phrase", text[i + 1:end], i)
            i = end + 1
        elif c == "-":
            if i + 1 == len(text) or text[i + 1].isspace() or text[i + 1] == ")":
                raise QueryError("'-' excludes what is written right after it: -word, -\"phrase\", -field:value "
                                 "or -(…)", i, "“-”排除紧跟其后的内容：-词语、-\"短语\"、-字段:值 或 -(…)")
            yield _Token("-", c, i)
            i += 1
        elif field_name := _FIELD.match(text, i):
            yield _Token("field", field_name[1], i)
            i = field_name.end()
        else:
            end = _WORD_END.search(text, i)
            stop = end.start() if end else len(text)
            word = text[i:stop]
            yield _Token(word if word in _OPERATORS else "word", word, i)
            i = stop


class _Parser:
    def __init__(self, text: str, grams: QueryGrams, words: Tokenize, known: Mapping[str, Collection[str]]) -> None:
        self.tokens = list(_tokens(text.translate(_SYNTAX)))
        self.at = 0
        self.grams = grams
        self.words = words
        self.known = known

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def needs_more(self, after: _Token, what: str, chinese: str) -> None:
        """After an operator something to search must follow."""
        following = self.peek()
        if following is None or following.kind in (")", "OR", "AND"):
            raise QueryError(f"{after.text} needs {what} after it", after.position, f"{after.text} 后面缺少{chinese}")

    def query(self) -> Query | None:
        if not self.tokens:
            return None
        node = self.expression(None)
        if (extra := self.peek()) is not None:  # the expression stops only at ')'
            raise QueryError("')' has no '(' before it", extra.position, "“)”前面没有对应的“(”")
        return node

    def expression(self, within: str | None) -> Query:
        """Terms side by side (or joined by AND), until ')' or the end."""
        nodes = [self.either(within)]
        while (token := self.peek()) is not None and token.kind != ")":
            if token.kind == "AND":
                self.take()
                self.needs_more(token, "something to search", "要搜索的内容")
            nodes.append(self.either(within))
        return _and(nodes)

    def either(self, within: str | None) -> Query:
        nodes = [self.unary(within)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.needs_more(token, "something to search", "要搜索的内容")
            nodes.append(self.unary(within))
        return _or(nodes)

    def unary(self, within: str | None) -> Query:
        token = self.peek()
        if token is not None and token.kind in ("-", "NOT"):
            self.take()
            self.needs_more(token, "something to exclude", "要排除的内容")
            return _not(self.unary(within))
        return self.primary(within)

    def primary(self, within: str | None) -> Query:
        token = self.take()
        if token.kind in ("OR", "AND"):
            raise QueryError(f"{token.text} needs something to search before it", token.position,
                             f"{token.text} 前面缺少要搜索的内容")
        if token.kind == ")":
            raise QueryError("')' has no '(' before it", token.position, "“)”前面没有对应的“(”")
        if token.kind == "(":
            return self.group(token, within)
        if token.kind == "field":
            return self.field(token, within)
        return self.term(within or "text", token)

    def group(self, opening: _Token, within: str | None) -> Query:
        if (first := self.peek()) is not None and first.kind == ")":
            raise QueryError("nothing to search between '(' and ')'", opening.position, "“(”和“)”之间没有要搜索的内容")
        if first is None:
            raise QueryError("this '(' is never closed", opening.position, "“(”没有闭合")
        node = self.expression(within)
        if self.peek() is None:
            raise QueryError("this '(' is never closed", opening.position, "“(”没有闭合")
        self.take()
        return node

    def field(self, token: _Token, within: str | None) -> Query:
        name = ALIASES.get(token.text.lower(), token.text.lower())
        if name not in FIELDS:
            raise QueryError(f"unknown field '{token.text}' (fields: {', '.join(FIELDS)}); put text with a colon "
                             "in quotes", token.position,
                             f"没有“{token.text}”这个字段（可用：{'、'.join(FIELDS)}）；含冒号的文字请加引号")
        if within is not None:
            raise QueryError(f"{token.text}: inside {within}:(…): one field at a time", token.position,
                             f"{within}:(…) 中不能再用 {token.text}:，一次只能限定一个字段")
        value = self.peek()
        right_after = token.position + len(token.text) + 1
        if value is None or value.kind not in ("word", "phrase", "(") or value.position != right_after:
            raise QueryError(f"{token.text}: needs a value right after the colon", token.position,
                             f"{token.text}: 冒号后面应紧跟要查的值")
        self.take()
        return self.group(value, name) if value.kind == "(" else self.term(name, value)

    def term(self, name: str, token: _Token) -> Query:
        shown = f'"{token.text}"' if token.kind == "phrase" else f"'{token.text}'"
        if name in GRAM_FIELDS:
            grams, chars = self.grams(token.text)
            if not grams and not chars:
                raise QueryError(f"{shown} has no letter, digit or character to search for", token.position,
                                 f"{shown} 中没有可搜索的文字、字母或数字")
            words = tuple(w for w in tokens_text(self.words(token.text)).split())
            return Match(name, token.text, tuple(grams), tuple(chars), words, token.position)
        value = token.text.strip()
        if name in _LOWER_CASE:
            value = value.lower()
        allowed = CHOICES.get(name) or self.known.get(name)
        if not value:
            raise QueryError(f"{name}: needs a value", token.position, f"{name}: 缺少要查的值")
        if allowed is not None and value not in allowed:
            raise QueryError(f"{name}: {shown} is not one of: {', '.join(allowed) or 'none configured'}",
                             token.position, f"{name}: {shown} 不在可选值之中（{'、'.join(allowed) or '尚未配置'}）")
        return Value(name, value, token.position)


def parse_query(text: str, grams: QueryGrams, words: Tokenize,
                known: Mapping[str, Collection[str]] | None = None) -> Query | None:
    """The tree of `text` (None for an empty query: every post). `grams` and `words` come from the analysis
    stage; `known` names the values a field may have (source and scheme: the configured names)."""
    return _Parser(text or "", grams, words, known or {}).query()
