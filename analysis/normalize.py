"""Clean crawled text before anything reads it: HTML remnants, full-width letters, invisible characters."""

from __future__ import annotations

import html
import re

from analysis.snownlp_parts import zh2hans

_TAG = re.compile(r"<\s*(script|style)\b.*?</\s*\1\s*>|<!--.*?-->|<[^<>]{1,2000}>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.IGNORECASE)
# Zero-width and direction marks are invisible but split words and defeat keyword matching.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"), None)
_ANY_INVISIBLE = re.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")  # translating costs a look-up a character
# Full-width ASCII letters, digits and symbols (Ａ, １, ＠) → half-width; CJK punctuation (，。！？) is kept
# because readers expect it and it carries no search meaning.
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c - 0xFEE0).isalnum() or chr(c - 0xFEE0) in "@#%&+-=_/"}
_FULL_WIDTH[0x3000] = 0x20
_WIDE = re.compile("[" + "".join(map(chr, _FULL_WIDTH)) + "]")  # finding none is much faster than translating
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def normalize(text: str | None) -> str:
    if not text:
        return ""
    if "<" in text or "&" in text:
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub("", text)
        text = html.unescape(text)
    if _ANY_INVISIBLE.search(text):
        text = text.translate(_INVISIBLE)
    text = _SPACES.sub(" ", fold_width(text))
    if "\n" not in text:  # one line, as most posts are
        return text.strip()
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def fold_width(text: str) -> str:
    """Full-width letters, digits and symbols as ASCII (and the ideographic space as a space)."""
    return text.translate(_FULL_WIDTH) if _WIDE.search(text) else text


def normalize_title(text: str | None) -> str:
    """Titles are one line."""
    return " ".join(normalize(text).split())


def to_simplified(text: str) -> str:
    """Traditional characters as simplified ones (SnowNLP's table), so that 惡臭 and 恶臭 are one word
    for search, keywords, sentiment and watch schemes. Stored text keeps what the author wrote."""
    return zh2hans(text)
