"""`yuqing es migrate`: an embedded store's posts copied into the cluster, resumable.

The embedded store gives its posts in the order they were last written (store.embedded's `export`). After
each batch is stored (and refreshed) in the cluster, the place reached in that order is written to a
checkpoint file in the data folder, whole or not at all. A copy that is interrupted, however, goes on from
there when run again: at most the batch in flight is sent twice, and an upsert by id stores it once. Run
again after it finished, it copies what the embedded store got since.

Events follow the posts, all of them each run (a few thousand at most; a copy replaces one by id), so that the
service goes on with the same events on the cluster. So do the alerts of the alert state (alerts.copies), for
Kibana's alerts panels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import settings as config
from store.base import EventQuery, Store
from store.embedded import EmbeddedStore
from models import Post


@dataclass
class Checkpoint:
    file: Path
    position: tuple[int, int] = (0, 0)  # (sequence, row) of the last post copied
    copied: int = 0

    @classmethod
    def for_copy(cls, data_dir: Path, source: Path, target: config.Store) -> Checkpoint:
        """The checkpoint of copying `source` into the cluster and prefix `target` names (one per such pair)."""
        key = f"{source.resolve()}|{','.join(target.url)}|{target.index_prefix}"
        file = data_dir / f"es-migrate-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}.json"
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
            return cls(file, (int(saved["seq"]), int(saved["row"])), int(saved["copied"]))
        except FileNotFoundError:
            return cls(file)
        except (ValueError, KeyError, TypeError) as exc:
            raise config.ConfigError(f"{file} cannot be read ({exc}); delete it, or run with --restart, to copy "
                                     "everything again") from None

    def save(self, position: tuple[int, int], copied: int) -> None:
        self.position, self.copied = position, self.copied + copied
        self.file.parent.mkdir(parents=True, exist_ok=True)
        staged = self.file.with_name(self.file.name + ".tmp")
        staged.write_text(json.dumps({"seq": position[0], "row": position[1], "copied": self.copied}), encoding="utf-8")
        staged.replace(self.file)

    def clear(self) -> None:
        self.file.unlink(missing_ok=True)
        self.position, self.copied = (0, 0), 0


@dataclass
class Outcome:
    copied: int = 0
    inserted: int = 0
    updated: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def copy_posts(source: EmbeddedStore, target: Store, checkpoint: Checkpoint, batch_size: int,
               advance: Callable[[int], object]) -> Outcome:
    outcome = Outcome()
    batch: list[Post] = []
    position = checkpoint.position

    def flush() -> None:
        result = target.upsert(batch)
        outcome.copied += len(batch)
        outcome.inserted += len(result.inserted)
        outcome.updated += len(result.updated)
        outcome.failed.update(result.failed)
        checkpoint.save(position, len(batch))
        advance(len(batch))
        batch.clear()

    for position, post in source.export(checkpoint.position):
        batch.append(post)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return outcome


def copy_events(source: EmbeddedStore, target: Store, batch_size: int) -> int:
    copied = 0
    while events := source.events(EventQuery(limit=batch_size, offset=copied)):
        target.upsert_events(events)
        copied += len(events)
    return copied
