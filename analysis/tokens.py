"""jieba tokenisation with a user dictionary built from the watch schemes.

The same tokens are indexed by the store and produced for search queries, so a query for 吉林燃料乙醇
finds the posts that mention it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

import jieba

from analysis.normalize import to_simplified

# Tokens that are only punctuation, symbols or whitespace carry nothing for search or keywords.
MEANINGLESS = re.compile(r"^[\W_]+$", re.UNICODE)

jieba.setLogLevel(logging.WARNING)
_init_lock = threading.Lock()


class Tokenizer:
    """A jieba tokenizer of its own, so that one set of watch terms does not leak into another."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        with _init_lock:
            self._jieba.initialize()
        for word in user_words:
            word = word.strip()
            # jieba's dictionary format splits on spaces, so a multi-word term is added per word.
            for part in word.split():
                self._jieba.add_word(to_simplified(part.lower()), freq=200_000)

    def cut(self, text: str) -> list[str]:
        """Every token, punctuation included (sentiment needs clause boundaries)."""
        return list(self._jieba.cut(text.lower()))

    def tokenize(self, text: str) -> list[str]:
        text = to_simplified(text.lower())
        return [t for t in (w.strip() for w in self._jieba.cut(text)) if t and not MEANINGLESS.match(t)]
