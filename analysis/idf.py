"""The IDF table behind keywords and events, built from posts and news of the kind yuqing watches.

jieba ships an IDF table from an older, general corpus: it rates Weibo words such as 转发, 哈哈 or 微博
as rare and so as keywords. `yuqing build-idf` counts document frequencies over JSONL posts (the
shipped table: Weibo posts, reviews and news headlines; see analysis/models/README.md), so an
enterprise can also rebuild it from its own collected posts. Terms the table has never seen get the
median IDF, as in jieba: rare enough to count, not enough to outweigh every known term.
"""

from __future__ import annotations

import gzip
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from analysis.normalize import normalize, to_simplified
from analysis.tokens import Tokenizer

MIN_DOCUMENTS = 2  # a term seen in one document only is as likely a typo or a name as a word


class IdfTable:
    def __init__(self, idf: dict[str, float], documents: int) -> None:
        self.idf = idf
        self.documents = documents
        self.default = statistics.median(idf.values()) if idf else 1.0

    def get(self, term: str) -> float:
        return self.idf.get(term, self.default)

    @classmethod
    def shipped(cls) -> IdfTable:
        return cls.load(Path(str(resources.files("analysis").joinpath("models", "idf.tsv.gz"))))

    @classmethod
    def load(cls, path: Path) -> IdfTable:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            header = handle.readline().split()
            if header[:2] != ["#", "documents"]:
                raise ValueError(f"{path}: not an IDF table written by `yuqing build-idf`")
            idf = {}
            for line in handle:
                term, _, value = line.rstrip("\n").rpartition("\t")
                idf[term] = float(value)
        return cls(idf, int(header[2]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # mtime=0: the same corpus gives the same bytes, so a rebuilt table shows no spurious change.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            lines = [f"# documents {self.documents}\n"] + [f"{t}\t{v:.4f}\n" for t, v in sorted(self.idf.items())]
            packed.write("".join(lines).encode("utf-8"))


def build(texts: Iterable[str], tokenizer: Tokenizer, min_documents: int = MIN_DOCUMENTS) -> IdfTable:
    frequency: Counter[str] = Counter()
    documents = 0
    for text in texts:
        frequency.update(set(tokenizer.tokenize(to_simplified(normalize(text)))))
        documents += 1
    idf = {t: math.log(documents / n) for t, n in frequency.items() if n >= min_documents and "\t" not in t}
    return IdfTable(idf, documents)


def read_texts(paths: Iterable[Path]) -> Iterator[str]:
    """The text of every JSONL object (`text`, or `title` + `content`) in files or folders of them."""
    for row in read_jsonl(paths):
        text = row.get("text") or f"{row.get('title') or ''}\n{row.get('content') or ''}"
        if str(text).strip():
            yield str(text)


def read_jsonl(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """The objects of JSONL files, or of the *.jsonl files in folders; a line that is not JSON stops the
    reading with its file and line number (training on half a file would go unnoticed)."""
    for path in paths:
        for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
            with file.open(encoding="utf-8", errors="replace") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError as exc:
                        raise ValueError(f"{file}:{number}: not JSON ({exc})") from None
                    if isinstance(row, dict):
                        yield row
