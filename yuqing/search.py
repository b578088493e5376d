"""Searching as the command line and the dashboard do it: the query parser fed by the analysis stage and the
configuration, and the check that a source or scheme asked for is one that is configured."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import settings as config
from analysis.grams import query_grams
from store.query import Query, Tokenize, parse_query

Parse = Callable[[str], Query | None]


def configured(settings: config.Settings) -> dict[str, list[str]]:
    """The values `source:` and `scheme:` may take: the configured names."""
    return {"source": [s.name for s in settings.sources], "scheme": [s.name for s in settings.schemes]}


def query_parser(settings: config.Settings, words: Tokenize) -> Parse:
    """`words`: the analysis tokenizer's (with the schemes' terms), so whole words rank as posts were indexed."""
    return partial(parse_query, grams=query_grams, words=words, known=configured(settings))


def unknown_name(settings: config.Settings, field: str, name: str | None) -> str | None:
    """Why `name` is no configured source or scheme (`field`), or None when it is one (or not given)."""
    names = configured(settings)[field]
    if name is None or name in names:
        return None
    return f"--{field} {name!r} names no configured {field} (configured: {', '.join(names) or 'none'})"
