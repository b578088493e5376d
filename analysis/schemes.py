"""Watch-scheme matching: which schemes a post belongs to, and which terms made it so."""

from __future__ import annotations

from collections.abc import Sequence

from settings import Scheme
from yuqing.models import SchemeMatch


def _found(text: str, terms: Sequence[str]) -> list[str]:
    return [t for t in terms if t.lower() in text]


class SchemeMatcher:
    def __init__(self, schemes: Sequence[Scheme]) -> None:
        self.schemes = list(schemes)

    def match(self, text: str) -> list[SchemeMatch]:
        """`text` is normalised title + content. Matching ignores letter case."""
        text = text.lower()
        out = []
        for scheme in self.schemes:
            subject = _found(text, scheme.keywords)
            if not subject or _found(text, scheme.exclude):
                continue
            must = _found(text, scheme.must)
            if len(must) < len(scheme.must):
                continue
            extra = _found(text, scheme.any)
            if scheme.any and not extra:
                continue
            out.append(SchemeMatch(name=scheme.name, terms=list(dict.fromkeys([*subject, *must, *extra]))))
        return out
