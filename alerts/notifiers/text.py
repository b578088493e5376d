"""Crawled text made safe and short for chat messages: one line, no markup of its own, cut to fit a limit."""

from __future__ import annotations

import re
from collections.abc import Callable

from models import web_link

ELLIPSIS = "…"
_SPACES = re.compile(r"\s+")
# Control characters, and the direction overrides that could make a title read backwards.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Every character that starts markup in DingTalk's or WeCom's markdown (links, images, emphasis, code, headings,
# quotes, tables, HTML such as <font> and WeCom's <@userid> mention, entities) becomes its full-width twin: it
# reads the same in Chinese text, and no renderer can take it for syntax, whichever escapes it knows.
_MARKUP = str.maketrans({
    "\\": "＼", "`": "｀", "*": "＊", "_": "＿", "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜", ">": "＞",
    "#": "＃", "!": "！", "|": "｜", "~": "～", "@": "＠", "&": "＆", "$": "＄", "=": "＝", "+": "＋",
})
# In a link's target, what could end the target or the link early, or start markup, is percent-encoded.
_IN_LINK = str.maketrans({c: f"%{ord(c):02X}" for c in "()[]<>\"'`\\{}|^*"})


def one_line(value: object) -> str:
    """The text on one line: control characters dropped, every run of white space one space."""
    return _SPACES.sub(" ", _INVISIBLE.sub("", str(value or ""))).strip()


def markdown(value: object) -> str:
    """Crawled text for a markdown message: one line that renders as itself. `://` loses its colon to a
    full-width one, so that no client turns an address in a title into a link."""
    return one_line(value).translate(_MARKUP).replace("://", "：//")


def cut(text: str, chars: int) -> str:
    """At most `chars` characters (the ellipsis at least), the last an ellipsis when something was cut. Python
    strings are cut between code points, so a multi-byte character is never split, however it is encoded."""
    return text if len(text) <= chars else text[:max(chars - 1, 0)] + ELLIPSIS


def link(url: object) -> str | None:
    """The address to put in a markdown link or a button, or None when it must not be linked (not http(s))."""
    checked = web_link(str(url or ""))
    return checked.translate(_IN_LINK) if checked else None


def fit(measure: Callable[[str], int], text: str, limit: int) -> str:
    """`text` cut (with an ellipsis) to the most characters with which `measure` stays within `limit`.
    Raises ValueError when even an empty `text` does not fit."""
    if measure(text) <= limit:
        return text
    low, high, best = 0, len(text) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if measure(cut(text, middle)) <= limit:
            best, low = cut(text, middle), middle + 1
        else:
            high = middle - 1
    if best is None:
        raise ValueError(f"the message is longer than the channel's limit of {limit} bytes even without details")
    return best
