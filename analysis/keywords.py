"""Keywords: TF-IDF over the post's own jieba tokens, with our IDF table (analysis/idf.py) and a stopword list."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from importlib import resources

from analysis.idf import IdfTable


def _load_stopwords() -> frozenset[str]:
    text = resources.files("analysis").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


# A number, in figures or in Chinese, with at most a unit or ordinal after it (三十万吨, 二期, 2024年, 5%):
# a figure says something only beside what it counts, so alone it is no keyword.
QUANTITY = re.compile(r"[0-9０-９.%％〇零一二两三四五六七八九十百千万亿几余第]+"
                      r"[期年月日号个位名次届批吨元亩米户人天]?")


class KeywordExtractor:
    def __init__(self, protected: Sequence[str] = (), idf: IdfTable | None = None) -> None:
        table = idf or IdfTable.shipped()
        self._median = table.default
        self._stop = _load_stopwords()
        # Watch terms may be single characters or look like stopwords; they are still what officers look for.
        self._protected = {w.lower() for w in protected}
        # The table's terms judged once: a known term costs one look-up, a stopword's IDF is 0.
        self._idf = {t: v if self._useful(t) else 0.0 for t, v in table.idf.items()}
        self._idf.update({t: table.get(t) for t in self._protected})

    def _useful(self, token: str) -> bool:
        if token in self._protected:
            return True
        return len(token) > 1 and token not in self._stop and not QUANTITY.fullmatch(token)

    def weighted(self, tokens: Sequence[str], top: int = 10) -> list[tuple[str, float]]:
        """The top terms with their TF-IDF weights, heaviest first."""
        counts = Counter(tokens)  # counted first, so each distinct token is judged once
        idf, median = self._idf, self._median
        weight = {}
        for term, n in counts.items():
            value = idf.get(term)
            if value is None:
                value = median if self._useful(term) else 0.0
            if value > 0:
                weight[term] = n * value
        return sorted(weight.items(), key=lambda item: (-item[1], item[0]))[:top]

    def extract(self, tokens: Sequence[str], top: int = 10) -> list[str]:
        return [term for term, _ in self.weighted(tokens, top)]
