"""The analysts' query language, parsed into a backend-neutral form.

    words are ANDed     "quoted phrases"     -exclude     -"excluded phrase"     a OR b

`OR` binds tighter than the implicit AND: `污染 投诉 OR 举报` means 污染 AND (投诉 OR 举报).
Each word or phrase is turned into tokens by the `tokenize` function the caller passes (the
analysis stage's tokenizer), so the store matches the same tokens it indexed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

Tokenize = Callable[[str], list[str]]

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Phrase:
    """One word or quoted phrase: its tokens must appear next to each other, in order."""

    text: str
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class TextQuery:
    """all(any(group) for group in must) and not any(excluded)."""

    must: tuple[tuple[Phrase, ...], ...] = ()
    exclude: tuple[Phrase, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.must and not self.exclude


def _whitespace(text: str) -> list[str]:
    return text.lower().split()


@dataclass
class _Builder:
    tokenize: Tokenize
    groups: list[list[Phrase]] = field(default_factory=list)
    exclude: list[Phrase] = field(default_factory=list)
    pending_or: bool = False

    def phrase(self, text: str) -> Phrase | None:
        tokens = tuple(t for t in self.tokenize(text) if t.strip())
        return Phrase(text, tokens) if tokens else None

    def add(self, phrase: Phrase, negative: bool) -> None:
        if negative:
            self.exclude.append(phrase)
        elif self.pending_or and self.groups:
            self.groups[-1].append(phrase)
        else:
            self.groups.append([phrase])
        self.pending_or = False


def parse_query(text: str, tokenize: Tokenize = _whitespace) -> TextQuery:
    builder = _Builder(tokenize)
    for match in _TOKEN.finditer(text or ""):
        minus, quoted, bare = match.groups()
        if bare is not None:
            if bare == "OR":
                builder.pending_or = bool(builder.groups)
                continue
            negative = bare.startswith("-") and len(bare) > 1
            phrase = builder.phrase(bare[1:] if negative else bare)
        else:
            negative = bool(minus)
            phrase = builder.phrase(quoted)
        if phrase is not None:
            builder.add(phrase, negative)
    return TextQuery(tuple(tuple(g) for g in builder.groups), tuple(builder.exclude))
