"""`yuqing analyze`: JSONL in, the same objects out in order, with the analysis added.

It streams: a batch of lines in, the same batch out, so memory stays flat whatever the input size (the
duplicate index and the event clusterer keep bounded state). A line that is not a JSON object is reported on
stderr with its number and skipped.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

from analysis.pipeline import Analyzer
from yuqing.models import Post

PROGRESS_EVERY = 20_000
BATCH = 256  # posts analysed together when reading a file: numpy's fixed cost per call is shared by them


def _post(obj: dict[str, Any], number: int) -> Post:
    if "text" in obj:
        title, content = "", str(obj.get("text") or "")
    else:
        title, content = str(obj.get("title") or ""), str(obj.get("content") or "")
    return Post(id=str(obj.get("id") or f"line:{number}"), platform=str(obj.get("platform") or "unknown"),
                source=str(obj.get("source") or "analyze"), url=str(obj.get("url") or ""), title=title, content=content)


def analyze_stream(lines: Iterable[str], out: IO[str], analyzer: Analyzer, errors: IO[str] = sys.stderr,
                   with_schemes: bool = False) -> tuple[int, int]:
    """Returns (objects written, lines skipped)."""
    written = skipped = 0
    started = time.monotonic()
    # Input from a pipe may pause: each result goes out at once. From a file, posts are analysed and
    # written in batches.
    eager = not (isinstance(lines, io.IOBase) and lines.seekable())
    if isinstance(out, io.TextIOWrapper) and out.line_buffering and not eager:
        out.reconfigure(line_buffering=False)
    progress = tqdm(file=errors, unit=" posts", mininterval=1.0, disable=not errors.isatty())
    batch: list[tuple[dict[str, Any], Post]] = []

    def flush() -> None:
        nonlocal written
        analysed = analyzer.analyse_many([post for _, post in batch])
        out.write("".join(_line(obj, post, with_schemes) for (obj, _), post in zip(batch, analysed)))
        out.flush()
        before, written = written, written + len(batch)
        batch.clear()
        progress.update(written - before)
        if progress.disable and written // PROGRESS_EVERY > before // PROGRESS_EVERY:
            rate = written / max(1e-9, time.monotonic() - started)
            print(f"analysed {written} posts ({rate:.0f}/s)", file=errors, flush=True)

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        except ValueError as exc:
            skipped += 1
            print(f"line {number}: skipped: {str(exc)[:200]}", file=errors)
            continue
        batch.append((obj, _post(obj, number)))
        if eager or len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    progress.close()
    return written, skipped


def _line(obj: dict[str, Any], post: Post, with_schemes: bool) -> str:
    obj["sentiment"] = post.sentiment.model_dump() if post.sentiment else None
    obj["keywords"] = post.keywords
    obj["simhash"] = post.simhash
    obj["dup_of"] = post.dup_of
    obj["event_id"] = post.event_id
    obj["risk"] = post.risk
    if with_schemes:
        obj["schemes"] = [m.model_dump() for m in post.schemes]
    return json.dumps(obj, ensure_ascii=False) + "\n"
