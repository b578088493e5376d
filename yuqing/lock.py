"""One writer per store: a lock file in the data folder, held for as long as a writing command runs.

The lock is an flock(2) on the file, so the kernel drops it when its process ends, however it ends: a
file left behind by a process killed with SIGKILL blocks nothing. The file holds the holder's pid and
start time so that a refused command can say who is in the way.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime
from pathlib import Path

from models import now

LOCK_FILE = "yuqing.lock"


class StoreBusy(Exception):
    """Another process writes to this store."""


class StoreLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # os.open makes the descriptor non-inheritable: crawl subprocesses never hold the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0))
            os.close(fd)
            raise StoreBusy(f"{self.path.parent} is in use by another yuqing process ({holder}); stop it first, "
                            f"or give this one another [store] path") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": now().isoformat(timespec="seconds")}).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock; the file stays for the next holder
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(raw: bytes) -> str:
    try:
        info = json.loads(raw)
        since = datetime.fromisoformat(info["since"]).strftime("%Y-%m-%d %H:%M:%S")
        return f"pid {int(info['pid'])}, running since {since}"
    except (ValueError, KeyError, TypeError):
        return "pid not yet written"  # it took the lock a moment ago and is writing its pid now
