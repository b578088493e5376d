"""The news dev set: headlines and passages of news pages, each labelled by reading it.

The texts stay in ../shared (their sources publish them for research; the project does not carry them):
each row of benchmarks/data/news_dev.jsonl names where its text is and the first 12 hex digits of the
text's SHA-1, and the loader reads the text from there and checks it. A row is either
- a line of a JSONL file: {"file": "data/topics/thucnews_titles_dev.jsonl", "line": 7, ...} (the row's
  `text`, a headline), or
- a passage of a saved page, as the project's own extractor reads it: {"file": "fixtures/pages/news/x.html",
  "title": true, "paragraphs": [1], ...} is the extracted headline and the body's paragraph 1 (paragraphs
  are the non-empty lines of the extracted body, from 0); "paragraphs": "all" is the whole body.
The text of a passage with its headline is headline + newline + its paragraphs joined by newlines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
NEWS_DEV = DATA / "news_dev.jsonl"
NEWS_PAGES = DATA / "news_pages.jsonl"  # the news pages, each whole, labelled by what the article says


@dataclass(frozen=True)
class Passage:
    title: str  # the headline, if the passage has one
    body: str
    label: str
    where: str  # file:line or file#paragraphs, for messages

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}" if self.title and self.body else self.title or self.body


def fingerprint(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


@cache
def _jsonl_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@cache
def extracted(path: Path) -> tuple[str, tuple[str, ...]]:
    """A saved page's headline and body paragraphs, as the crawler's extractor reads them."""
    from scrapy.http import HtmlResponse

    from crawlers.extract import extract_article
    from crawlers.middlewares import decoded

    page = decoded(HtmlResponse(url="http://example.com/", body=path.read_bytes()))
    article = extract_article(page.text)
    return article["title"], tuple(p.strip() for p in article["content"].split("\n") if p.strip())


def resolve(row: dict[str, Any], shared: Path) -> Passage:
    """The passage a row names; ValueError if it is not there or is not the text that was labelled."""
    path = shared / row["file"]
    if not path.is_file():
        raise ValueError(f"{row['file']}: no such file")
    if "line" in row:
        where = f"{row['file']}:{row['line']}"
        lines = _jsonl_lines(path)
        if not 1 <= row["line"] <= len(lines):
            raise ValueError(f"{where}: no such line")
        passage = Passage(json.loads(lines[row["line"] - 1])["text"], "", row["label"], where)
    else:
        title, paragraphs = extracted(path)
        chosen = row["paragraphs"]
        where = f"{row['file']}#{chosen}"
        if chosen == "all":
            chosen = range(len(paragraphs))
        elif not all(0 <= i < len(paragraphs) for i in chosen):
            raise ValueError(f"{where}: the extracted body has {len(paragraphs)} paragraphs")
        passage = Passage(title if row.get("title") else "", "\n".join(paragraphs[i] for i in chosen), row["label"], where)
    if fingerprint(passage.text) != row["sha1"]:
        raise ValueError(f"{where}: not the text that was labelled (SHA-1 differs; did the extractor change?)")
    return passage


def load(rows_file: Path, shared: Path) -> tuple[list[Passage], list[str]]:
    """The passages of a rows file that are found as they were labelled, and a message for each that is not."""
    passages, problems = [], []
    for line in rows_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                passages.append(resolve(json.loads(line), shared))
            except ValueError as exc:
                problems.append(str(exc))
    return passages, problems
