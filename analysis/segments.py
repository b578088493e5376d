"""One jieba pass a post, shared by search tokens, keywords and sentiment features.

A Weibo post is the poster's own words followed by a repost chain (//@someone: …); each part is a
segment. Emoticons such as [怒] are taken out whole before jieba sees them (it would split them),
and @mentions and links are dropped: they name people and pages, they are not opinion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.tokens import MEANINGLESS, Tokenizer

_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_REPOST = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_MENTION = re.compile(r"@[^\s:：,，。!！?？@]{1,30}")
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Segment:
    repost: bool
    text: str  # without emoticons, mentions and links
    words: list[str]  # every jieba token, punctuation included
    emoticons: list[str]


def segment(text: str, tokenizer: Tokenizer) -> list[Segment]:
    """`text` is already normalised."""
    own, *chain = _REPOST.split(text)
    out = []
    for i, part in enumerate([own, *chain]):
        emoticons = _EMOTICON.findall(part)
        clean = _URL.sub(" ", _MENTION.sub(" ", _EMOTICON.sub(" ", part)))
        out.append(Segment(i > 0, clean, tokenizer.cut(clean), emoticons))
    return out


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
