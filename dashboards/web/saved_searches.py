"""Saved searches: a name and the search's address query, kept in one small JSON file beside the store.

A JSON file rather than a table: a few dozen entries, read whole, written whole (atomically: a crash while
saving leaves the old file), easy to copy from one office's store to another's.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

NAME_MAX, QUERY_MAX, COUNT_MAX = 64, 2000, 200


@dataclass(frozen=True)
class SavedSearch:
    id: int
    name: str
    query: str  # the search page's address query (q=…&range=…), without page or pin


class SavedSearchError(ValueError):
    """A saved search that cannot be kept or read; the message is for the person who asked."""


class SavedSearches:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: not configured, nothing can be saved
        self._lock = threading.Lock()

    def list(self) -> list[SavedSearch]:
        if self.path is None or not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [SavedSearch(int(d["id"]), str(d["name"]), str(d["query"])) for d in data["searches"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SavedSearchError(f"保存的搜索无法读取（{self.path.name}：{exc}）；请修复或移走该文件。") from None

    def add(self, name: str, query: str) -> SavedSearch:
        name, query = name.strip(), query.strip().lstrip("?")
        if self.path is None:
            raise SavedSearchError("未配置保存搜索的位置。")
        if not name:
            raise SavedSearchError("请为这次搜索起个名字。")
        if len(name) > NAME_MAX or len(query) > QUERY_MAX:
            raise SavedSearchError(f"名字不能超过 {NAME_MAX} 个字，搜索条件不能超过 {QUERY_MAX} 个字符。")
        with self._lock:
            found = self.list()
            if len(found) >= COUNT_MAX:
                raise SavedSearchError(f"最多保存 {COUNT_MAX} 个搜索，请先删除不用的。")
            kept = [s for s in found if s.name != name]  # the same name again replaces the old one
            saved = SavedSearch(max((s.id for s in found), default=0) + 1, name, query)
            self._write([*kept, saved])
        return saved

    def remove(self, search_id: int) -> bool:
        with self._lock:
            found = self.list()
            kept = [s for s in found if s.id != search_id]
            if len(kept) == len(found):
                return False
            self._write(kept)
        return True

    def _write(self, searches: list[SavedSearch]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps({"searches": [asdict(s) for s in searches]}, ensure_ascii=False, indent=1),
                             encoding="utf-8")
        os.replace(temporary, self.path)
