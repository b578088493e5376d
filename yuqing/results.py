"""Search results as `yuqing search` writes them: for people in a terminal of any width, in Chinese; as CSV
(Chinese headers and labels for people, or `ascii` headers and stored values for scripts); as JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from alerts.labels import PLATFORM_LABELS, SENTIMENT_LABELS
from models import Post
from store.base import SearchResult

Outlet = Callable[[Post], str]

# (ASCII header and stored value for scripts, Chinese header for people), in the CSV's order.
# `score` is the sentiment's lean (0 = negative, 1 = positive), never a verdict of its own; risk is 0..1.
COLUMNS = (("time", "发布时间"), ("sentiment", "情感"), ("score", "正负倾向"), ("risk", "风险"), ("outlet", "来源"),
           ("source", "采集源"), ("platform", "平台"), ("author", "作者"), ("title", "标题"), ("url", "链接"),
           ("schemes", "监测方案"), ("content", "正文"), ("id", "编号"))
TABLE_MIN_WIDTH = 120  # narrower terminals get a post on three lines instead of a table's row
_COLOURS = {"negative": "red", "positive": "green"}


def _values(post: Post, outlet: Outlet, people: bool) -> dict[str, str]:
    sentiment = post.sentiment.label if post.sentiment else ""
    return {
        "time": post.time.strftime("%Y-%m-%d %H:%M"),
        "sentiment": SENTIMENT_LABELS.get(sentiment, sentiment) if people else sentiment,
        "score": _number(post.sentiment.score if post.sentiment else None, people),
        "risk": _number(post.risk, people),
        "outlet": outlet(post),
        "source": post.source,
        "platform": PLATFORM_LABELS.get(post.platform, post.platform) if people else post.platform,
        "author": post.author.name,
        "title": post.title or post.content[:60],
        "url": post.url,
        "schemes": ";".join(post.scheme_names()),
        "content": post.content,
        "id": post.id,
    }


def _number(value: float | None, people: bool) -> str:
    """Two decimals for people, as every page shows it; the stored value for scripts."""
    if value is None:
        return ""
    return f"{value:.2f}" if people else str(value)


def write_csv(result: SearchResult, outlet: Outlet, out: IO[bytes], *, ascii_headers: bool = False) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ascii if ascii_headers else chinese for ascii, chinese in COLUMNS)
    for post in result.posts:
        values = _values(post, outlet, people=not ascii_headers)
        writer.writerow(values[name] for name, _ in COLUMNS)
    # The BOM is what makes Excel read the file as UTF-8 instead of the local code page.
    out.write(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    out.flush()


def write_json(result: SearchResult, outlet: Outlet, out: IO[str]) -> None:
    posts = [{**p.model_dump(mode="json", exclude={"tokens"}), "outlet": outlet(p)} for p in result.posts]
    out.write(json.dumps({"total": result.total, "posts": posts}, ensure_ascii=False, indent=2) + "\n")


def print_posts(result: SearchResult, outlet: Outlet, console: Console | None = None) -> None:
    """A table on a wide terminal; on a narrower one each post on three lines, cut to the width at whole
    characters (a Chinese character takes two columns), its link whole on a line of its own."""
    console = console or Console()
    if not result.posts:
        console.print("没有匹配的帖子")
        return
    if console.width >= TABLE_MIN_WIDTH:
        console.print(_table(result, outlet))
    else:
        for post in result.posts:
            _card(console, _values(post, outlet, people=True), post.sentiment.label if post.sentiment else "")
    console.print(f"共 {result.total} 条，显示 {len(result.posts)} 条")


def _table(result: SearchResult, outlet: Outlet) -> Table:
    table = Table(header_style="bold")
    for header in ("发布时间", "情感", "来源", "作者", "标题"):
        table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=48 if header == "标题" else 16)
    table.add_column("链接", overflow="fold")
    for post in result.posts:
        values = _values(post, outlet, people=True)
        label = post.sentiment.label if post.sentiment else ""
        table.add_row(values["time"], Text(values["sentiment"], style=_COLOURS.get(label, "")), values["outlet"],
                      values["author"], values["title"], values["url"])
    return table


def _card(console: Console, values: dict[str, str], label: str) -> None:
    lean = f"（正负倾向 {values['score']}）" if values["score"] else ""
    head = Text.assemble(values["time"], "  ", (f"{values['sentiment']}{lean}",
                                                 _COLOURS.get(label, "")), "  ", values["outlet"])
    if values["author"]:
        head.append(f" · {values['author']}")
    for line in (head, Text("  " + values["title"])):
        line.truncate(console.width, overflow="ellipsis")
        console.print(line, no_wrap=True, overflow="ellipsis")
    # A link cut short leads nowhere: whole, even if the terminal wraps it.
    console.print(Text("  " + values["url"], style="dim"), soft_wrap=True)
