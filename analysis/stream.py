"""`yuqing analyze`: JSONL in, the same objects out in order, with the analysis added.

It streams: a batch of lines in, the same batch out, so memory stays flat whatever the input size (the
duplicate index and the event clusterer keep bounded state). A file is read BATCH lines at a time; a pipe
in batches of what has arrived, so that each result goes out as soon as the input pauses. A line that is
not a JSON object (or nests too deeply to read) is reported on stderr with its number and skipped. Of a
huge text the analyser reads the head and tail only (analysis.pipeline.HEAD, TAIL): its line says
"truncated": true.
"""

from __future__ import annotations

import io
import json
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any

from pydantic import ValidationError
from tqdm import tqdm

from analysis.pipeline import Analyzer, truncated
from models import Post

PROGRESS_EVERY = 20_000
OPTIONAL = frozenset({"published_at", "author", "source_tier", "metrics"})  # a time; a name or {name, followers}
BATCH = 256  # posts analysed together: numpy's fixed cost per call is shared by them
_ENCODER = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(obj, ensure_ascii=False) builds anew each call


def _post(obj: dict[str, Any], number: int, errors: IO[str]) -> Post:
    if "text" in obj:
        title, content = "", str(obj.get("text") or "")
    else:
        title, content = str(obj.get("title") or ""), str(obj.get("content") or "")
    base = {"id": str(obj.get("id") or f"line:{number}"), "platform": str(obj.get("platform") or "unknown"),
            "source": str(obj.get("source") or "analyze"), "url": str(obj.get("url") or ""),
            "title": title, "content": content}
    # What events, hot terms and risk read when the input has it: when the post appeared, who wrote it and
    # their reach, the source's tier. A field that cannot be read is left out and reported; the post stays.
    optional = {key: obj[key] for key in obj.keys() & OPTIONAL if obj[key] is not None}
    if isinstance(optional.get("author"), str):
        optional["author"] = {"name": optional["author"]}
    while True:
        try:
            return Post(**base, **optional)
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors()} & optional.keys()
            if not bad:
                raise
            print(f"line {number}: {', '.join(sorted(bad))} not understood, left out", file=errors)
            optional = {k: v for k, v in optional.items() if k not in bad}


def analyze_stream(lines: Iterable[str], out: IO[str], analyzer: Analyzer, errors: IO[str] = sys.stderr,
                   with_schemes: bool = False, events: IO[str] | None = None) -> tuple[int, int]:
    """Returns (objects written, lines skipped). With `events`, a summary of every event goes there, one
    JSON object a line: events the clusterer lets go as they go, the others when the input ends."""
    analyzer.events.track_changes = False  # nothing here stores events: their summaries go to `events`
    if events is not None:
        analyzer.events.on_drop = lambda event: events.write(_json_line(event.summary()))
    written = skipped = 0
    started = time.monotonic()
    from_file = isinstance(lines, io.IOBase) and lines.seekable()
    if isinstance(out, io.TextIOWrapper) and out.line_buffering and from_file:
        out.reconfigure(line_buffering=False)
    progress = tqdm(file=errors, unit=" posts", mininterval=1.0, disable=not errors.isatty())
    for batch in (_file_batches(lines) if from_file else _arrived_batches(lines)):
        parsed: list[tuple[int, dict[str, Any], Post]] = []
        for number, line in batch:
            if number == 1:
                line = line.removeprefix("\ufeff")  # a byte-order mark, as Windows editors write
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
                parsed.append((number, obj, _post(obj, number, errors)))
            except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python recurses
                skipped += 1
                _skip(number, exc, errors)
        analysed = analyzer.analyse_many([post for _, _, post in parsed])
        results = []
        for (number, obj, _), post in zip(parsed, analysed):
            try:
                results.append(_line(obj, post, with_schemes))
            except (ValueError, RecursionError) as exc:  # what json.loads read but cannot be written back
                skipped += 1
                _skip(number, exc, errors)
        out.write("".join(results))
        out.flush()
        before, written = written, written + len(results)
        progress.update(len(results))
        if progress.disable and written // PROGRESS_EVERY > before // PROGRESS_EVERY:
            rate = written / max(1e-9, time.monotonic() - started)
            print(f"analysed {written} posts ({rate:.0f}/s)", file=errors, flush=True)
    progress.close()
    if events is not None:
        events.write("".join(_json_line(event.summary()) for event in analyzer.events.events.values()))
        events.flush()
    return written, skipped


def _skip(number: int, exc: BaseException, errors: IO[str]) -> None:
    reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
    print(f"line {number}: skipped: {reason}", file=errors)


Numbered = list[tuple[int, str]]


def _file_batches(lines: Iterable[str]) -> Iterator[Numbered]:
    numbered = enumerate(lines, 1)
    while batch := list(islice(numbered, BATCH)):
        yield batch


def _arrived_batches(lines: Iterable[str]) -> Iterator[Numbered]:
    """From a pipe, whatever lines have arrived (up to BATCH): when the input pauses, what came before the
    pause is analysed and written at once, and a fast producer still gets batches."""
    arrived: queue.Queue[tuple[int, str] | BaseException] = queue.Queue(maxsize=4 * BATCH)

    def read() -> None:
        try:
            for item in enumerate(lines, 1):
                arrived.put(item)
            arrived.put(StopIteration())
        except BaseException as exc:  # noqa: BLE001 - handed to the analysing thread, which raises it
            arrived.put(exc)

    threading.Thread(target=read, name="analyze-input", daemon=True).start()
    while True:
        batch: Numbered = []
        ended: BaseException | None = None
        # Wait for one line, then take only those already waiting (one reader: a non-empty queue does not block).
        while len(batch) < BATCH and (not batch or not arrived.empty()):
            item = arrived.get()
            if isinstance(item, BaseException):
                ended = item
                break
            batch.append(item)
        if batch:
            yield batch
        if isinstance(ended, StopIteration):
            return
        if ended is not None:
            raise ended


def _line(obj: dict[str, Any], post: Post, with_schemes: bool) -> str:
    obj["sentiment"] = post.sentiment.model_dump() if post.sentiment else None
    obj["keywords"] = post.keywords
    obj["simhash"] = post.simhash
    obj["dup_of"] = post.dup_of
    obj["event_id"] = post.event_id
    obj["risk"] = post.risk
    obj["truncated"] = truncated(post)
    if with_schemes:
        obj["schemes"] = [m.model_dump() for m in post.schemes]
    return _json_line(obj)


def _json_line(obj: dict[str, Any]) -> str:
    return _ENCODER.encode(obj) + "\n"
