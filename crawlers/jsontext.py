"""JSON as sites really send it: cut off by a timeout, a size cap or a proxy. Keep what is complete."""

from __future__ import annotations

import json
from typing import Any

# How many cut points to try, from the end back, before giving up on a broken document.
_TRIES = 64


def loads_lenient(text: str) -> tuple[Any, bool]:
    """(data, complete). A truncated document gives everything up to its last complete value, with the
    open arrays and objects closed. Raises ValueError when not even that can be read."""
    try:
        return json.loads(text), True
    except ValueError:
        pass
    closers: list[str] = []
    cuts: list[tuple[int, str]] = []  # (end, what closes the containers still open there)
    in_string = escaped = False
    for at, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]":
            if not closers:
                break
            closers.pop()
            cuts.append((at + 1, "".join(reversed(closers))))
        elif char == "," and closers:
            cuts.append((at, "".join(reversed(closers))))
    for end, close in reversed(cuts[-_TRIES:]):
        try:
            return json.loads(text[:end] + close), False
        except ValueError:
            continue
    raise ValueError("no complete JSON value in the text")
