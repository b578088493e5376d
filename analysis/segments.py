"""One jieba pass a post, shared by search tokens, keywords and sentiment features.

A Weibo post is the poster's own words followed by a repost chain (//@someone: …); each part is a
segment. Emoticons such as [怒] are taken out whole before jieba sees them (it would split them),
and @mentions and links are dropped: they name people and pages, they are not opinion. Never the words
around them, though: a name is dropped only where it visibly ends (`_drop_mention`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.tokens import MEANINGLESS, Tokenizer

_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
# A nickname is Chinese, letters, digits, _ and -, at most 30 units with a Chinese character counting two
# (Weibo's rule); `_is_name` weighs the length, which a pattern cannot.
_REPOST = re.compile(r"//\s*@([\w-]{1,30})\s*[:：]")
# An @ right after a letter, digit, dot or slash is in an e-mail address or a link, not a mention.
# A colon after the name goes with it, unless it starts the :// of a link written straight after the name.
_MENTION = re.compile(r"(?<![A-Za-z0-9./_-])@([\w-]*+)([:：](?!//))?")
# A link in a post (t.cn short links, percent-encoded addresses) is printable ASCII: it ends where the
# Chinese text after it begins (http://t.cn/A6x这家工厂…).
_URL = re.compile(r"https?://[!-~]+")


@dataclass(frozen=True)
class Segment:
    repost: bool
    text: str  # without emoticons, mentions and links
    words: list[str]  # every jieba token, punctuation included
    emoticons: list[str]


def segment(text: str, tokenizer: Tokenizer) -> list[Segment]:
    """`text` is already normalised."""
    out = []
    for i, part in enumerate(_split_chain(text)):
        # (each pattern is run only where it may match: a post has no emoticon, mention or link as often as not)
        emoticons = _EMOTICON.findall(part) if "[" in part else []
        if "@" in part:
            part = _MENTION.sub(_drop_mention, part)
        clean = _EMOTICON.sub(" ", part) if "[" in part else part
        if "http" in clean:
            clean = _URL.sub(" ", clean)
        out.append(Segment(i > 0, clean, tokenizer.cut(clean), emoticons))
    return out


def _is_name(name: str) -> bool:
    return len(name) + sum(not c.isascii() for c in name) <= 30


def _split_chain(text: str) -> list[str]:
    """The poster's own words, then each link of the repost chain, nearest first."""
    if "//" not in text:
        return [text]
    parts, start = [], 0
    for link in _REPOST.finditer(text):
        if _is_name(link[1]):
            parts.append(text[start:link.start()])
            start = link.end()
    parts.append(text[start:])
    return parts


def _drop_mention(mention: re.Match[str]) -> str:
    """A mention's name is dropped only where it visibly ends: at a space (Weibo's client writes one after
    a picked name), a colon (回复@name: and //@name:) or another @. Chinese has no spaces between words,
    so a name running on into a comma or the end of the text cannot be told from the post's own words
    (@张三这家工厂排污严重，… / 我和@小明一起去看了): there only the @ goes. A name left in costs a stray
    word; a post's words taken for a name cost its sentiment, keywords and search. A name of Latin letters
    and digits holds no Chinese words, so wherever it ends is its end."""
    name, colon = mention[1], mention[2] or ""
    after = mention.string[mention.end():mention.end() + 1]
    ends = colon or after.isspace() or after == "@" or name.isascii()
    return " " if ends and name and _is_name(name) else f" {name}{colon}"


def search_tokens(segments: list[Segment]) -> list[str]:
    out = []
    for seg in segments:
        for word in seg.words:
            # Nearly every word is letters or digits (Chinese characters are letters): isalnum settles it.
            if word.isalnum():
                out.append(word)
            elif (word := word.strip()) and not MEANINGLESS.match(word):
                out.append(word)
    return out
