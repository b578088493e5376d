"""Keywords: TF-IDF over the post's own jieba tokens, with our IDF table (analysis/idf.py) and a stopword list.

A keyword is a word. jieba's HMM joins runs of single characters its dictionary cannot place into tokens of their
own: new words and names (特金会, 赵薇) as often as pieces of two words stuck across their boundary (没有/人/管 →
人管, 找/个 → 找个). So a token the dictionary (main or user) lacks is a keyword only when it is a Latin word or a
figure, or looks like a person's name (a surname and one or two characters), or holds no grammar character and
took no character from a neighbour (人管 after 没有: 有人 is a word). The last test reads the post's tokens, so it
runs only for the few unknown tokens among a post's heaviest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources

from analysis.idf import IdfTable


def _load_stopwords() -> frozenset[str]:
    text = resources.files("analysis").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


# A number, in figures or in Chinese, with at most a unit or ordinal after it (三十万吨, 十余家, 二期, 2024年, 5%):
# a figure says something only beside what it counts, so alone it is no keyword.
QUANTITY = re.compile(r"[0-9０-９.%％〇零一二两三四五六七八九十百千万亿几余第]+[多馀来]?"
                      r"(?:[期年月日号个位名次届批吨元亩米户人天家条件起辆台座所项种份斤升岁层栋只张篇周]"
                      r"|公里|公斤|小时|分钟|万元|亿元)?")
# The commonest surnames: an unknown two- or three-character token that starts with one is taken for a name.
SURNAMES = frozenset("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
                     "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
                     "莫孔向汤穆欧")
HAN = re.compile(r"[\u3400-\u9fff]")
# Characters of grammar that the HMM sticks onto a neighbour (我要, 找个, 发了, 不进, 太能): hardly ever in a name or a
# new word; nor is a position word after what it follows (信中, 人后, 屏下).
GRAMMAR = frozenset("我你他她它这那哪不没别了过着的得地是有在个要能想可很太真挺也都就还又再才只把被给让从吗呢吧啊和与及或一")
POSITIONS = frozenset("上下中后前里内外")


class KeywordExtractor:
    def __init__(self, protected: Sequence[str] = (), idf: IdfTable | None = None,
                 known: Callable[[str], bool] = lambda word: True) -> None:
        """`known` says whether the tokenizer's dictionary has a word (Tokenizer.known)."""
        table = idf or IdfTable.shipped()
        self._median = table.default
        self._stop = _load_stopwords()
        self._known = known
        # Watch terms may be single characters or look like stopwords; they are still what officers look for.
        self._protected = {w.lower() for w in protected}
        # The table's terms judged once: a known term costs one look-up, a stopword's IDF is 0.
        judged = {t: self._judge(t) for t in table.idf}
        self._idf = {t: v if judged[t][0] else 0.0 for t, v in table.idf.items()}
        self._idf.update({t: table.get(t) for t in self._protected})
        self._doubtful = {t for t, (useful, doubtful) in judged.items() if useful and doubtful}

    def _judge(self, token: str) -> tuple[bool, bool]:
        """Whether the token may be a keyword, and whether that still depends on its neighbours in the post."""
        if token in self._protected:
            return True, False
        if len(token) < 2 or token in self._stop or QUANTITY.fullmatch(token) or self._two_stopwords(token):
            return False, False
        if not self._unsure(token):
            return True, False
        return not (GRAMMAR.intersection(token) or token[-1] in POSITIONS), True

    def _two_stopwords(self, token: str) -> bool:
        """jieba keeps some pairs of stopwords as one word (昨天下午, 今天上午): they are stopwords too."""
        return len(token) >= 4 and any(token[:i] in self._stop and token[i:] in self._stop
                                       for i in range(2, len(token) - 1))

    def _unsure(self, token: str) -> bool:
        """A Chinese token jieba's dictionary lacks that is no person's name: a new word or a glued piece."""
        return (token not in self._protected and HAN.search(token) is not None and not self._known(token)
                and not (len(token) <= 3 and token[0] in SURNAMES))

    def _straddles(self, term: str, tokens: Sequence[str]) -> bool:
        """Whether `term` took a character from a neighbour somewhere: that character and the neighbour's next
        to it make a dictionary word (没有/人管: 有人)."""
        last = len(tokens) - 1
        for i, token in enumerate(tokens):
            if token == term and ((i > 0 and self._known(tokens[i - 1][-1] + term[0]))
                                  or (i < last and self._known(term[-1] + tokens[i + 1][0]))):
                return True
        return False

    def weighted(self, tokens: Sequence[str], top: int = 10) -> list[tuple[str, float]]:
        """The top terms with their TF-IDF weights, heaviest first."""
        counts = Counter(tokens)  # counted first, so each distinct token is judged once
        idf, median, doubtful = self._idf, self._median, self._doubtful
        weight, unseen = {}, set()
        for term, n in counts.items():
            value = idf.get(term)
            if value is None:
                useful, depends = self._judge(term)
                value = median if useful else 0.0
                if depends:
                    unseen.add(term)
            if value > 0:
                weight[term] = n * value
        ranked = sorted(weight.items(), key=lambda item: (-item[1], item[0]))
        out = []
        for term, value in ranked:
            if (term in doubtful or term in unseen) and self._straddles(term, tokens):
                continue
            out.append((term, value))
            if len(out) == top:
                break
        return out

    def extract(self, tokens: Sequence[str], top: int = 10) -> list[str]:
        return [term for term, _ in self.weighted(tokens, top)]
