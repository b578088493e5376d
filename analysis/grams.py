"""What search looks up: characters and character pairs, so that any part of a word finds its posts.

jieba cuts 北辰燃料乙醇 as one word, so a search for 北辰 cannot find it by words alone. Search engines for
Chinese index character pairs instead (Elasticsearch's `cjk` analyzer does); these functions produce them
in plain lists, so that every store backend indexes and looks up exactly the same grams.

A text is read as units: one unit per Chinese (or Japanese, Korean) character, one per run of other
letters, one per run of digits (`iPhone15` is `iphone` `15`). Spaces and punctuation are skipped, so
`北辰 回应` and `北辰，回应` both read 北辰回应. A post's grams are, in order, one per unit:
the pair a character starts with (北辰 辰回 回应), the character alone where no character follows it (应),
and a word or number as itself. A run of characters right after a word or number also gets its first
character alone, before its first pair (`B站上`: b 站 站上 上), so that `B站` finds it. Beside them, a
post's single characters (no order kept) answer one-character searches.

Text is folded as analysis folds it before it is read: full-width letters and digits to ASCII, traditional
characters to simplified, lower case. Of a text longer than HEAD + TAIL characters the first HEAD and the
last TAIL are read, as analysis reads them.
"""

from __future__ import annotations

import re
from operator import add

from analysis.normalize import fold_width, to_simplified

HEAD = TAIL = 50_000

_CJK = "\u3041-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uf900-\ufaff\U00020000-\U0003134f\u3007"
# Pieces of Chinese characters, of other letters, of digits; everything else is skipped. Consecutive Chinese
# pieces (apart only by spaces or punctuation) make one run: joined in Python, as a pattern that spans the
# punctuation itself tries that at every character, a fifth slower over real posts.
_PIECES = re.compile(rf"([{_CJK}]+)|([^\W\d_{_CJK}]+|\d+)")
# A few marks inside the ranges above are not letters (゛, ゠); inside a run they are punctuation too.
_GAPS = re.compile(r"[\W_]+")


def _runs(text: str) -> list[tuple[str, bool]]:
    """(run, is Chinese) in order; a run of Chinese characters apart only by spaces or punctuation is one."""
    if len(text) > HEAD + TAIL:
        text = f"{text[:HEAD]}\n{text[-TAIL:]}"
    runs: list[tuple[str, bool]] = []
    chinese: list[str] = []

    def close_chinese() -> None:
        if run := _GAPS.sub("", "".join(chinese)):  # a run of marks alone reads as nothing
            runs.append((run, True))
        chinese.clear()

    for piece, word in _PIECES.findall(to_simplified(fold_width(text)).lower()):
        if piece:
            chinese.append(piece)
            continue
        if chinese:
            close_chinese()
        runs.append((word, False))
    if chinese:
        close_chinese()
    return runs


def index_grams(text: str) -> tuple[list[str], list[str]]:
    """A post's text as (grams in order, for words and phrases; its characters, for one-character searches)."""
    grams: list[str] = []
    chars: list[str] = []
    after_word = False
    for run, chinese in _runs(text):
        if not chinese:
            grams.append(run)
            after_word = True
            continue
        if after_word and len(run) > 1:
            grams.append(run[0])
        grams.extend(map(add, run, run[1:]))  # its pairs
        grams.append(run[-1])
        chars.extend(run)
        after_word = False
    return grams, chars


def query_grams(text: str) -> tuple[list[str], list[str]]:
    """What a searched word or phrase must find: (grams next to each other, in order) or, for one Chinese
    character alone, ([], [that character]). Both empty when it holds no letter or digit.

    Like `index_grams`, except at the ends of the phrase, where the post's text may go on: a run of
    characters that ends the phrase gives no lone last character (its last pair holds it already)."""
    runs = _runs(text)
    if len(runs) == 1 and runs[0][1] and len(runs[0][0]) == 1:
        return [], [runs[0][0]]
    grams: list[str] = []
    for i, (run, chinese) in enumerate(runs):
        if not chinese:
            grams.append(run)
            continue
        if i > 0 and len(run) > 1:
            grams.append(run[0])
        grams.extend([run[j:j + 2] for j in range(len(run) - 1)])
        if i < len(runs) - 1 or len(run) == 1:
            grams.append(run[-1])
    return grams, []
