"""Official statements: posts by the enterprise's own accounts, and reports of what an official body answered.

A post is official when its source is one of `[official] sources`, its author (name or id) one of `authors`,
or its title names one of `bodies` followed, in the same clause, by a response word (白桦市生态环境局回应…,
…局关于…的情况说明) or a colon (…局：将依法处理). A title that only mentions the body is not: one that asks
(…局回应了吗？), or where the response is denied or demanded (迟迟未回应, 要求…尽快回应).
"""

from __future__ import annotations

import re

from analysis.normalize import to_simplified
from models import Post
from settings import Official

RESPONSE_WORDS = ("回应", "通报", "声明", "说明", "答复", "表示", "已介入", "公告")
WITHIN = 20  # characters at most between the body's name and the response word
# Between the name and the response word: the statement is denied, demanded or asked about, not made.
NOT_MADE = ("不", "未", "没", "拒", "应当", "应该", "尽快", "要求", "敦促", "督促", "催", "盼", "请", "为何", "何时",
            "是否", "能否")
_CLAUSE_END = re.compile(r"[，,。！!？?；;]")
_QUESTION = ("？", "?")


def _fold(text: str) -> str:
    return to_simplified(text.strip().lower())


class OfficialMatcher:
    def __init__(self, official: Official) -> None:
        self.sources = frozenset(official.sources)
        self.authors = frozenset(_fold(a) for a in official.authors)
        self.bodies = tuple(_fold(b) for b in official.bodies)

    def __call__(self, post: Post) -> bool:
        if post.source in self.sources:
            return True
        author = post.author
        if (author.name and _fold(author.name) in self.authors) or (author.id and _fold(author.id) in self.authors):
            return True
        title = _fold(post.title)
        return any(self._reports(title, body) for body in self.bodies if body in title)

    @staticmethod
    def _reports(title: str, body: str) -> bool:
        start = title.find(body)
        while start >= 0:
            rest = title[start + len(body):]
            end = _CLAUSE_END.search(rest)
            clause = rest[:end.start()] if end else rest
            asked = (end is not None and end.group() in _QUESTION) or clause.endswith(("吗", "呢"))
            if not asked and (rest[:1] in (":", "：") or _states(clause)):
                return True
            start = title.find(body, start + 1)
        return False


def _states(clause: str) -> bool:
    for word in RESPONSE_WORDS:
        at = clause.find(word)
        if 0 <= at <= WITHIN and not any(hedge in clause[:at] for hedge in NOT_MADE):
            return True
    return False
