"""What one source's crawls remember between runs: `<data dir>/crawl-state/<source>.json`.

crawlers.run reads it before a crawl, hands it to the spider (which never reads the store), and writes it
back only after a successful crawl, so a failed crawl is retried over the same stretch of time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from models import aware, now

log = logging.getLogger(__name__)

MAX_SEEN = 5000  # enough to recognise the last few runs' posts; older ones fall behind the time cutoff anyway


def _time(value: object) -> datetime | None:
    try:
        return aware(datetime.fromisoformat(str(value))) if value else None
    except ValueError:
        return None


@dataclass
class CrawlState:
    last_run: datetime | None = None  # when the last successful crawl started
    newest: datetime | None = None  # the newest publication time collected so far
    seen: list[str] = field(default_factory=list)  # keys of recently collected posts, oldest first

    def cutoff(self, lookback: float) -> datetime:
        """Posts older than this are not new: the last successful run's start, or `lookback` ago on a first run."""
        return self.last_run or now() - timedelta(seconds=lookback)

    def advance(self, started: datetime, collected: Iterable[str], newest: datetime | None) -> CrawlState:
        keys = list(dict.fromkeys([*self.seen, *collected]))[-MAX_SEEN:]
        newest = max((t for t in (self.newest, newest) if t), default=None)
        return CrawlState(last_run=started, newest=newest, seen=keys)

    @classmethod
    def load(cls, path: Path) -> CrawlState:
        """An unreadable state file means a full first crawl again, not a failure."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(_time(data.get("last_run")), _time(data.get("newest")), [str(k) for k in data.get("seen", [])])
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("%s: unreadable crawl state (%s); crawling as if for the first time", path, exc)
            return cls()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "last_run": self.last_run.isoformat() if self.last_run else None,
            "newest": self.newest.isoformat() if self.newest else None,
            "seen": self.seen,
        }
        part = path.with_suffix(".json.part")
        part.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(part, path)  # never a half-written state file


def state_file(data_dir: Path, source: str) -> Path:
    return data_dir / "crawl-state" / f"{source}.json"


def job_dir(data_dir: Path, source: str) -> Path:
    """Scrapy's JOBDIR for one source: a stopped crawl resumes from it. A crawl that was killed instead left
    no spider.state and a queue that cannot be trusted, so its folder is cleared and the crawl starts afresh."""
    path = data_dir / "crawl-jobs" / source
    if path.exists() and not (path / "spider.state").exists():
        shutil.rmtree(path)
    return path
