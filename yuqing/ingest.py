"""Spool → analysis → store.

Crawlers write what they collect to spool files (one JSON PostItem a line); ingest turns each into a
Post, analyses it and upserts it. A file is deleted only after its posts are in the store, so a crash
or a store that is down loses nothing: the file is simply taken again next time. Lines that cannot be
read are kept, with the reason, under `rejected/` for a person to look at.
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
from store.base import Store
from models import Post

log = logging.getLogger(__name__)

BATCH = 500
_PID = re.compile(r"-(\d+)\.jsonl\.part$")


@dataclass
class IngestReport:
    files: int = 0
    posts: int = 0
    inserted: list[str] = field(default_factory=list)
    rejected: int = 0

    def add(self, other: IngestReport) -> None:
        self.files += other.files
        self.posts += other.posts
        self.inserted += other.inserted
        self.rejected += other.rejected


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Ingester:
    def __init__(self, spool_dir: Path, analyzer: Analyzer, store: Store) -> None:
        self.spool_dir = Path(spool_dir)
        self.rejected_dir = self.spool_dir / "rejected"
        self.analyzer = analyzer
        self.store = store

    def pending(self) -> list[Path]:
        """Finished spool files, and unfinished ones whose crawler died (what it wrote is still ours)."""
        if not self.spool_dir.is_dir():
            return []
        done = list(self.spool_dir.glob("*.jsonl"))
        orphans = [
            p for p in self.spool_dir.glob("*.jsonl.part") if (m := _PID.search(p.name)) and not _alive(int(m.group(1)))
        ]
        return sorted(done + orphans, key=lambda p: p.stat().st_mtime)

    def run(self) -> IngestReport:
        report = IngestReport()
        for path in self.pending():
            report.add(self.ingest_file(path))
        return report

    def ingest_file(self, path: Path) -> IngestReport:
        report = IngestReport(files=1)
        batch: list[Post] = []
        for post in self._read(path, report):
            batch.append(post)
            if len(batch) >= BATCH:
                self._upsert(self.analyzer.analyse_many(batch), report)
                batch = []
        if batch:
            self._upsert(self.analyzer.analyse_many(batch), report)
        path.unlink()
        log.info("ingested %s: %d posts, %d new, %d rejected", path.name, report.posts, len(report.inserted), report.rejected)
        return report

    def _upsert(self, batch: list[Post], report: IngestReport) -> None:
        result = self.store.upsert(batch)
        report.posts += len(batch)
        report.inserted += result.inserted

    def _read(self, path: Path, report: IngestReport) -> Iterator[Post]:
        with path.open("r", encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    yield Post.from_item(json.loads(line))
                # RecursionError: a line nested too deeply for the parser, one bad line like any other.
                except (ValueError, KeyError, TypeError, ValidationError, RecursionError) as exc:
                    report.rejected += 1
                    self._reject(path, number, line, exc)

    def _reject(self, path: Path, number: int, line: str, exc: Exception) -> None:
        reason = str(exc).splitlines()[0][:300]
        log.warning("%s line %d rejected: %s", path.name, number, reason)
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        record = {"file": path.name, "line": number, "reason": reason, "raw": line.rstrip("\n")}
        with (self.rejected_dir / f"{path.name.split('.')[0]}.rejected.jsonl").open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
