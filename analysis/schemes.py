"""Watch-scheme matching: which schemes a post belongs to, and which terms made it so."""

from __future__ import annotations

from collections.abc import Sequence

from analysis.normalize import to_simplified
from settings import Scheme
from models import SchemeMatch

Terms = list[tuple[str, str]]  # (as configured, as matched: lower-case, simplified)


def _terms(words: Sequence[str]) -> Terms:
    return [(w, to_simplified(w.lower())) for w in words]


def _found(text: str, terms: Terms) -> list[str]:
    return [original for original, folded in terms if folded in text]


def _positions(text: str, term: str) -> list[int]:
    out, start = [], text.find(term)
    while start >= 0:
        out.append(start)
        start = text.find(term, start + 1)
    return out


def _near(text: str, first: str, second: str, within: int) -> bool:
    """Some occurrence of one term ends no more than `within` characters before the other begins."""
    seconds = _positions(text, second)
    for a in _positions(text, first):
        for b in seconds:
            gap = b - (a + len(first)) if b >= a else a - (b + len(second))
            if gap <= within:
                return True
    return False


class SchemeMatcher:
    def __init__(self, schemes: Sequence[Scheme]) -> None:
        self.schemes = [(s.name, _terms(s.keywords), _terms(s.must), _terms(s.any), _terms(s.exclude),
                         [(_terms(n.terms), n.within) for n in s.near]) for s in schemes]

    def match(self, text: str) -> list[SchemeMatch]:
        """`text` is normalised title + content. Matching ignores letter case and traditional/simplified."""
        return self.match_folded(to_simplified(text.lower()))

    def match_folded(self, text: str) -> list[SchemeMatch]:
        """For text already lower-cased and simplified."""
        out = []
        for name, keywords, must, any_of, exclude, near in self.schemes:
            subject = _found(text, keywords)
            if not subject or _found(text, exclude):
                continue
            required = _found(text, must)
            if len(required) < len(must):
                continue
            extra = _found(text, any_of)
            if any_of and not extra:
                continue
            if not all(_near(text, pair[0][1], pair[1][1], within) for pair, within in near):
                continue
            close = [original for pair, _ in near for original, _folded in pair]
            out.append(SchemeMatch(name=name, terms=list(dict.fromkeys([*subject, *required, *extra, *close]))))
        return out
