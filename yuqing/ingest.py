"""Spool → analysis → store.

Crawlers write what they collect to spool files (one JSON PostItem a line); ingest turns each into a
Post, analyses it and upserts it, in batches. A file is deleted only after its posts are in the store, so a
crash or a store that is down (a cluster unreachable, or refusing writes) loses nothing: files wait, and are
taken again in the order they were written once the store takes posts again.

Beside a file being ingested, `NAME.stored` says how many of its lines are stored already: a file taken
again after a failure goes on from there, so posts already stored are not analysed a second time (which
would count them twice in their events). Before each batch the store is asked whether it takes posts at all.

Lines that cannot be read, and posts the store refuses for good (a value its mapping cannot hold), are kept
with the reason under `rejected/` for a person to look at; the rest of the file is stored.

Events: right after a batch's posts, the events they changed are stored (whole: each replaces its stored
version). The analyser holds the truth about an event while it runs, so a failure there loses no post and no
count: the events wait in memory and go with the next batch (or at stop). Before the first batch the analyser
gets the store's active and cooling events back, so that posts after a restart join the same events.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from analysis.pipeline import Analyzer
from store.base import EventQuery, Store, StoreError
from models import Event, Post

log = logging.getLogger(__name__)

# Posts analysed and stored at a time. A batch is one commit of the embedded index, which costs as much as
# indexing a few hundred posts: 2,000 store about half again as fast as 500, and still reach the store (and the
# alert rules) within a second or two of analysis.
BATCH = 2000
RESTORE_PAGE = 1000  # events read from the store at a time when the analyser takes them back
_PID = re.compile(r"-(\d+)\.jsonl\.part$")


@dataclass
class IngestReport:
    files: int = 0
    posts: int = 0
    inserted: list[str] = field(default_factory=list)
    rejected: int = 0
    events: int = 0  # events stored (each time one changed)

    def add(self, other: IngestReport) -> None:
        self.files += other.files
        self.posts += other.posts
        self.inserted += other.inserted
        self.rejected += other.rejected
        self.events += other.events


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pending(spool_dir: Path) -> list[Path]:
    """Finished spool files, and unfinished ones whose crawler died (what it wrote is still ours), oldest first."""
    if not spool_dir.is_dir():
        return []
    done = list(spool_dir.glob("*.jsonl"))
    orphans = [p for p in spool_dir.glob("*.jsonl.part") if (m := _PID.search(p.name)) and not _alive(int(m.group(1)))]
    return sorted(done + orphans, key=lambda p: p.stat().st_mtime)


def _mark(path: Path) -> Path:
    return path.with_name(path.name + ".stored")


def _stored_lines(path: Path) -> int:
    try:
        return int(_mark(path).read_text())
    except (FileNotFoundError, ValueError):
        return 0


def spool_depth(spool_dir: Path) -> tuple[int, int]:
    """(files, posts) waiting to be ingested: lines with something on them, less those stored already."""
    files = pending(spool_dir)
    posts = 0
    for path in files:
        stored = _stored_lines(path)
        with path.open("rb") as lines:
            posts += sum(1 for number, line in enumerate(lines, 1) if number > stored and line.strip())
    return len(files), posts


@dataclass
class _Line:
    number: int
    text: str
    post: Post | None = None
    error: Exception | None = None


class Ingester:
    def __init__(self, spool_dir: Path, analyzer: Analyzer, store: Store, batch: int = BATCH) -> None:
        self.spool_dir = Path(spool_dir)
        self.batch = batch
        self.rejected_dir = self.spool_dir / "rejected"
        self.analyzer = analyzer
        self.store = store
        self.restored = False
        self._unsaved: dict[str, Event] = {}  # changed events the store did not take yet

    def restore(self) -> int:
        """Give the analyser the store's active and cooling events, once; returns how many. Raises StoreError
        while the store cannot be read (the next run asks again)."""
        if self.restored:
            return 0
        events: list[Event] = []
        for status in ("active", "cooling"):
            while page := self.store.events(EventQuery(status=status, limit=RESTORE_PAGE, offset=len(events))):  # type: ignore[arg-type]
                events += page
        self.analyzer.restore_events(events)
        self.restored = True
        if events:
            log.info("continuing %d events under way", len(events))
        return len(events)

    def store_events(self) -> int:
        """Store the events changed since the last time; a store that fails keeps them waiting for the next.
        Returns how many were stored."""
        self._unsaved.update((event.id, event) for event in self.analyzer.take_changed_events())
        if not self._unsaved:
            return 0
        try:
            self.store.upsert_events(self._unsaved.values())
        except StoreError as exc:
            log.warning("%d events not stored (%s); they go with the next batch", len(self._unsaved), exc)
            return 0
        stored, self._unsaved = len(self._unsaved), {}
        return stored

    def pending(self) -> list[Path]:
        return pending(self.spool_dir)

    def run(self) -> IngestReport:
        """Every waiting file in order; the first failure of the store stops the run (and raises), so that
        files are stored in the order they were written."""
        report = IngestReport()
        paths = self.pending()
        if paths:
            self.restore()
        with self.store.bulk():  # a backlog of files is written faster; every process sees it when the run ends
            for path in paths:
                report.add(self.ingest_file(path))
        return report

    def ingest_file(self, path: Path) -> IngestReport:
        report = IngestReport(files=1)
        batch: list[_Line] = []
        posts = 0
        for line in self._read(path, _stored_lines(path)):
            batch.append(line)
            posts += line.post is not None
            if posts >= self.batch:
                self._store(path, batch, report)
                batch, posts = [], 0
        if batch:
            self._store(path, batch, report)
        _mark(path).unlink(missing_ok=True)  # first: a mark left alone could be taken for a later file's
        path.unlink()
        log.info("ingested %s: %d posts, %d new, %d rejected", path.name, report.posts, len(report.inserted), report.rejected)
        return report

    def _store(self, path: Path, batch: list[_Line], report: IngestReport) -> None:
        """One batch: analysed and stored, its bad lines and refused posts set aside, then marked as done."""
        lines = [entry for entry in batch if entry.post]
        if lines:
            self.store.check()  # before the analysis: a store that is down would waste it, and events would count twice
            analysed = self.analyzer.analyse_many([entry.post for entry in lines])  # type: ignore[misc]
            result = self.store.upsert(analysed)
            report.posts += len(analysed) - len(result.failed)
            report.inserted += result.inserted
            report.events += self.store_events()
            for entry in lines:
                if entry.post and entry.post.id in result.failed:  # type: ignore[union-attr]
                    entry.error = ValueError(f"post {entry.post.id} refused by the store: {result.failed[entry.post.id]}")
        for entry in batch:
            if entry.error is not None:
                report.rejected += 1
                self._reject(path, entry.number, entry.text, entry.error)
        mark = _mark(path)
        staged = mark.with_name(mark.name + ".tmp")
        staged.write_text(str(batch[-1].number))
        staged.replace(mark)  # whole or not at all

    def _read(self, path: Path, stored: int) -> Iterator[_Line]:
        """The lines after the first `stored`, each with its post or why it has none."""
        with path.open("r", encoding="utf-8", errors="replace") as lines:
            for number, text in enumerate(lines, 1):
                if number <= stored or not text.strip():
                    continue
                try:
                    yield _Line(number, text, post=Post.from_item(json.loads(text)))
                # RecursionError: a line nested too deeply for the parser, one bad line like any other.
                except (ValueError, KeyError, TypeError, ValidationError, RecursionError) as exc:
                    yield _Line(number, text, error=exc)

    def _reject(self, path: Path, number: int, line: str, exc: Exception) -> None:
        reason = str(exc).splitlines()[0][:300]
        log.warning("%s line %d rejected: %s", path.name, number, reason)
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        record = {"file": path.name, "line": number, "reason": reason, "raw": line.rstrip("\n")}
        with (self.rejected_dir / f"{path.name.split('.')[0]}.rejected.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
