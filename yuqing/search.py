"""Searching as the command line and the dashboard do it: the query parser fed by the analysis stage and the
configuration, the check that a source or scheme asked for is one that is configured, the times people give
for a search's start and end, and the names people read for the posts' outlets."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path

import settings as config
from analysis.grams import query_grams
from models import SHANGHAI, OutletNames, aware
from store.query import Query, Tokenize, parse_query
from yuqing.demo import demo_config

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


def search_config(given: Path | None) -> tuple[Path | None, str | None]:
    """The configuration to search the store (or report on it) with: the one given, $YUQING_CONFIG's or
    ./yuqing.toml; when there is none, that of a demo run in this folder, with a note saying so."""
    if given is not None or os.environ.get("YUQING_CONFIG") or Path(config.DEFAULT_CONFIG).exists():
        return given, None
    demo = demo_config()
    if demo.is_file():
        return demo, f"no {config.DEFAULT_CONFIG} here: reading the demo's store (--config {demo})"
    return None, None


def outlet_names(settings: config.Settings) -> OutletNames:
    """The names people read for posts' outlets and for the configured sources (models.OutletNames)."""
    return OutletNames({s.name: s.display_name for s in settings.sources if s.display_name})


_CLOCK = re.compile(r"([01]?\d|2[0-3])[:：]([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_DAYS = {"today": 0, "yesterday": 1, "今天": 0, "昨天": 1}
MOMENTS = "a duration (30m, 24h, 7d, 1w), today, yesterday, a time (14:00), a date (2026-11-30) or both"


def moment(value: str, at: datetime, *, end: bool = False) -> datetime:
    """The time `--since VALUE` (or with `end`, `--until VALUE`) means, judged at `at` (Asia/Shanghai).

    A duration is that long before `at`; a clock time is today's, or yesterday's while today's is still to come;
    a day (today, yesterday, a date) starts at its midnight, and as an end includes its last second.
    Raises ValueError, saying what it takes."""
    text = value.strip()
    try:
        return at - timedelta(seconds=config.parse_duration(text))
    except ValueError:
        pass
    local = at.astimezone(SHANGHAI)
    if text.lower() in _DAYS:
        return _day(local.date() - timedelta(days=_DAYS[text.lower()]), end)
    if clock := _CLOCK.fullmatch(text):
        when = local.replace(hour=int(clock[1]), minute=int(clock[2]), second=0, microsecond=0)
        return when - timedelta(days=1) if when > local else when
    try:
        if _DATE.fullmatch(text):
            return _day(date(*map(int, text.split("-"))), end)
        return aware(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"{value!r}: give {MOMENTS} (2026-11-30 14:00)") from None


def _day(day: date, end: bool) -> datetime:
    start = datetime.combine(day, time(), SHANGHAI)
    # Searches include their end's whole second: the day's last second ends it.
    return start + timedelta(days=1, seconds=-1) if end else start
