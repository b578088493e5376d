"""The single-machine store: SQLite (WAL) is the record of truth, a tantivy index answers queries.

Every upsert gives the rows it touches a new sequence number. The index remembers the last sequence
it committed (a file beside it, written after each tantivy commit), so whatever reached SQLite but not
the index before a crash is indexed again when the store opens.

Opening also compares the two, cheaply: the index's document count with SQLite's row count, the index's
sequence with SQLite's highest. A store opened for writing rebuilds an index that lost documents or cannot
be read; a read-only store never takes the index writer, never writes, and says what is wrong instead.
A posts.db behind its index (fewer posts, an older sequence) is never indexed again: the index holds no
post bodies, so it cannot bring them back, and indexing what is left would only hide the loss.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pydantic
import tantivy

from store.base import (AlertCopy, AuthorReach, Breakdown, EventQuery, Interval, Progress, SearchQuery, SearchResult,
                        Store, StoreError, UpsertResult, VolumeBucket, bucket_offset, epoch_ms, keep_corrections,
                        last_seen_bounds, post_reach, volume_buckets)
from store.query import WHOLE_WORD_BONUS, And, Match, Not, Or, Query, Value
from store.text import GRAM_FIELDS, TOKENS, IndexGrams, search_fields
from models import Correction, Event, Post, now

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_seq ON posts(seq);
CREATE INDEX IF NOT EXISTS posts_corrected ON posts(id) WHERE json_extract(doc, '$.correction') IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    last_seen INTEGER NOT NULL,  -- epoch milliseconds (store.base.epoch_ms)
    risk REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_last_seen ON events(last_seen);
"""
_EVENT_ORDER = {"time": "last_seen DESC, id", "risk": "risk DESC, last_seen DESC, id"}
_BOUND_OPERATORS = {"gte": ">=", "gt": ">", "lte": "<="}
# The indexing memory the writer may take before it writes a segment out (taken only as posts need it): inside a
# bulk block a larger one makes fewer, larger segments to merge, about a tenth faster than 64 MB over 100,000 posts.
_WRITER_HEAP = 256 * 1024 * 1024
_BATCH = 500  # rows read from SQLite at a time while indexing: what bounds reindex's memory
# Inside `bulk`, upserts commit the index only every so many posts or seconds, when the block ends, or when this
# process reads (so it always sees its own writes): each commit writes a segment, and writing and merging many small
# segments, each with its own dictionary of character pairs, costs more than indexing their posts.
_COMMIT_POSTS = 20_000
_COMMIT_SECONDS = 30.0
# A terms aggregation cuts each segment's list to `segment_size` before merging them, which undercounts
# terms that miss the cut in some segments; uncut, the counts are exact.
_UNCUT = 2**32 - 1


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field(TOKENS, tokenizer_name="whitespace", index_option="position")
    for grams, chars in GRAM_FIELDS.values():
        builder.add_text_field(grams, tokenizer_name="whitespace", index_option="position")
        builder.add_text_field(chars, tokenizer_name="whitespace", index_option="freq")
    for name in ("source", "platform", "sentiment", "scheme", "keyword", "tier", "region", "author_name"):
        builder.add_text_field(name, fast=True, tokenizer_name="raw")
    builder.add_text_field("event", tokenizer_name="raw")
    builder.add_text_field("dup_of", tokenizer_name="raw")
    builder.add_integer_field("time", fast=True, indexed=True)
    builder.add_integer_field("crawled", fast=True, indexed=True)
    builder.add_integer_field("reach", fast=True)
    builder.add_float_field("score", fast=True)
    return builder.build()


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _index_failure(exc: BaseException) -> bool:
    """tantivy reports a damaged index as ValueError, or as a Rust panic (pyo3's PanicException)."""
    return isinstance(exc, ValueError) or type(exc).__name__ == "PanicException"


def _brief(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


class EmbeddedStore(Store):
    """`grams`: the analysis stage's gram function (store.text), which a store that writes needs to index text.
    `readonly`: never takes the index writer, never writes (searches, reports). `repair=False`: an index
    that must be rebuilt is left as it is, for `reindex` to rebuild at once."""

    def __init__(self, path: Path | str, *, grams: IndexGrams | None = None, readonly: bool = False,
                 repair: bool = True) -> None:
        if grams is None and not readonly:
            raise TypeError("a store opened for writing needs the gram function that indexes text (grams=)")
        self.path = Path(path)
        self.readonly = readonly
        self._grams = grams
        self._records_file = self.path / "posts.db"
        self._index_dir = self.path / "index"
        self._marker = self.path / "index.seq"
        if not self._records_file.exists():
            if self._marker.exists():  # an index was built here, from posts that are gone
                raise self._lost("is missing", "posts", self._indexed_seq())
            if readonly:
                raise StoreError(f"no posts stored under {self.path} yet; run `yuqing run` or `make demo` first")
        self.path.mkdir(parents=True, exist_ok=True)
        # Readers (dashboard threads, alert rules) get connections of their own, so a read never
        # lands inside the writer's open transaction.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._lock = threading.RLock()
        self._schema = _schema()
        self._index: tantivy.Index | None = None
        self._unreadable = ""  # why self._index is None
        self._writer: tantivy.IndexWriter | None = None
        self._writer_lock: IO[bytes] | None = None
        self._bulk = 0  # how many `bulk` blocks are open
        self._uncommitted = 0  # posts added to the writer since its last commit
        self._uncommitted_seq = 0  # the sequence number they reach
        self._committed_at = time.monotonic()
        with self._records():
            self._db = self._connect()
        try:
            self._open(repair)
        except BaseException:
            self.close()
            raise

    def _open(self, repair: bool) -> None:
        self._load_index()
        problem = self._check()  # before the schema is written: a posts.db that lost posts stays as it is
        if self.readonly:
            if problem:
                raise StoreError(f"{problem}; run `yuqing reindex` to rebuild it from {self._records_file}")
            return  # an index that only lags is being caught up by its writer
        with self._records():
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        if not repair:
            return
        if problem is None and self._lagging() and self._writer_free():
            # A crash between the SQLite commit and the index commit. (A writer still at work commits itself.)
            self._index_rows(everything=False)
            problem = self._check()
        if problem:
            log.warning("%s: rebuilding it from %s", problem, self._records_file)
            self.reindex()

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            db = sqlite3.connect(f"{self._records_file.resolve().as_uri()}?mode=ro", uri=True,
                                 check_same_thread=False, isolation_level=None)
        else:
            db = sqlite3.connect(self._records_file, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def _reader(self) -> sqlite3.Connection:
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = self._connect()
            with self._lock:
                self._reader_connections.append(db)
        return db

    @contextmanager
    def _records(self) -> Iterator[None]:
        """sqlite3's errors, said as what they mean for posts.db and what to do about them."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                raise StoreError(
                    f"{self._records_file} is damaged ({exc}): restore it from a backup (`sqlite3 posts.db "
                    ".recover` can salvage what is still readable), then run `yuqing reindex`"
                ) from None
            raise StoreError(f"{self._records_file} cannot be used ({exc})") from None

    def _parse(self, post_id: str, doc: str) -> Post:
        try:
            return Post.model_validate_json(doc)
        except pydantic.ValidationError as exc:
            raise StoreError(f"{self._records_file} is damaged: post {post_id} cannot be read "
                             f"({_brief(exc)}); restore it from a backup") from None

    # ---- index and records, side by side ----
    def _load_index(self) -> None:
        """Open the index (a writer creates it when missing); when it cannot be, say why in self._unreadable."""
        try:
            if self._index_dir.is_dir() and tantivy.Index.exists(str(self._index_dir)):
                index = tantivy.Index.open(str(self._index_dir))
                if index.schema != self._schema:  # its queries would ask for fields it does not have
                    self._unreadable = "it was built by another version of yuqing, with other fields"
                    return
                self._index = index
            elif not self.readonly:
                self._index_dir.mkdir(exist_ok=True)
                self._index = tantivy.Index(self._schema, path=str(self._index_dir))
            else:
                self._unreadable = "it is missing"
        except BaseException as exc:
            if not _index_failure(exc):
                raise
            self._unreadable = _brief(exc)

    def _index_docs(self) -> int | None:
        """How many posts the index holds, from its latest commit; None when it cannot be read."""
        if self._index is None:
            return None
        try:
            self._index.reload()
            searcher = self._index.searcher()
            # Some segment files (positions) are first opened by a query: one that matches nothing opens them.
            searcher.search(tantivy.Query.term_query(self._schema, "tokens", ""), 1, count=True)
            return searcher.num_docs
        except BaseException as exc:
            if not _index_failure(exc):
                raise
            self._index, self._unreadable = None, _brief(exc)
            return None

    def _extent(self) -> tuple[int, int]:
        """How many posts posts.db holds, and its last sequence number; (0, 0) before it has the table."""
        with self._records():
            if not self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'posts'").fetchone():
                return 0, 0
            rows, seq = self._db.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM posts").fetchone()
        return rows, seq

    def _check(self) -> str | None:
        """Why the index must be rebuilt, or None when it agrees with posts.db (or only lags behind it).

        Raises when posts.db is behind its index. The marker is read first, then the index, then SQLite:
        a writer commits SQLite, then the index, then the marker, so all the index shows has reached
        SQLite, and an index at SQLite's own sequence holds exactly SQLite's rows, even mid-write.
        """
        indexed = self._indexed_seq()
        docs = self._index_docs()
        rows, seq = self._extent()
        if indexed > seq or (docs or 0) > rows:
            raise self._lost(f"holds {rows} posts (last update #{seq})", "posts" if docs is None else f"{docs} posts",
                             indexed)
        if docs is None:
            return f"the search index at {self._index_dir} cannot be read ({self._unreadable})"
        if indexed == seq and docs != rows:
            return f"the search index at {self._index_dir} holds {docs} posts but {self._records_file} holds {rows}"
        return None

    def _lost(self, state: str, held: str, indexed: int) -> StoreError:
        return StoreError(
            f"{self._records_file} has lost posts: it {state} but the search index at {self._index_dir} holds "
            f"{held} (last update #{indexed}). Restore posts.db from a backup: the index alone cannot rebuild "
            f"posts. To keep posts.db as it is instead, delete {self._index_dir} and {self._marker}, then run "
            "`yuqing reindex`"
        )

    def _lagging(self) -> bool:
        return self._indexed_seq() < self._max_seq()

    # ---- writing ----
    def _busy(self, detail: str) -> StoreError:
        return StoreError(f"the store at {self.path} is being written by another yuqing process; stop it first "
                          f"({detail})")

    def _hold_writer_lock(self) -> None:
        """One writing process per store (also while the index folder is replaced); released by close()."""
        if self.readonly:
            raise StoreError(f"the store at {self.path} was opened read-only")
        if self._writer_lock is None:
            handle = (self.path / "writer.lock").open("wb")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.close()
                raise self._busy(str(exc)) from None
            self._writer_lock = handle

    def _writer_free(self) -> bool:
        """Whether this process holds the writer lock now, or could take it."""
        try:
            self._hold_writer_lock()
        except StoreError:
            return False
        return True

    def _get_writer(self) -> tantivy.IndexWriter:
        self._hold_writer_lock()
        if self._index is None:
            raise StoreError(f"the search index at {self._index_dir} cannot be read ({self._unreadable}); "
                             "run `yuqing reindex`")
        if self._writer is None:
            try:
                self._writer = self._index.writer(_WRITER_HEAP, 1)
            except ValueError as exc:
                raise self._busy(_brief(exc)) from None
        return self._writer

    def _max_seq(self) -> int:
        with self._records():
            return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM posts").fetchone()[0]

    def _indexed_seq(self) -> int:
        try:
            return int(self._marker.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def _write_records(self, posts: list[Post]) -> tuple[UpsertResult, int, list[Post]]:
        """The SQLite half of an upsert: one transaction; returns the sequence number it used, and the posts as
        written (an analyst's correction of a known post applied)."""
        result = UpsertResult()
        seq = self._max_seq() + 1
        stamp = now().isoformat()
        with self._records():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                known = self._known([p.id for p in posts])
                posts = keep_corrections(posts, {post_id: Correction.model_validate_json(doc)
                                                 for post_id, doc in known.items() if doc is not None})
                rows = [(p.id, seq, stamp, p.model_dump_json()) for p in posts]
                self._db.executemany("UPDATE posts SET seq = ?, doc = ? WHERE id = ?",
                                     [(seq, doc, post_id) for post_id, _, _, doc in rows if post_id in known])
                self._db.executemany("INSERT INTO posts (id, seq, first_seen, doc) VALUES (?, ?, ?, ?)",
                                     [row for row in rows if row[0] not in known])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        for post in posts:
            (result.updated if post.id in known else result.inserted).append(post.id)
        return result, seq, posts

    def _known(self, ids: list[str]) -> dict[str, str | None]:
        """Those of `ids` that posts.db already holds, each with its analyst's correction as JSON (or None); asked in
        chunks, as SQLite caps a statement's parameters."""
        found: dict[str, str | None] = {}
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start:start + _BATCH]
            found.update(self._db.execute(
                f"SELECT id, json_extract(doc, '$.correction') FROM posts WHERE id IN ({','.join('?' * len(chunk))})",
                chunk))
        return found

    def _document(self, post: Post) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", post.id)
        assert self._grams is not None  # __init__ made sure for a store that writes
        for name, terms in search_fields(post, self._grams).items():
            doc.add_text(name, terms)
        doc.add_text("source", post.source)
        doc.add_text("tier", post.source_tier)
        if post.region:
            doc.add_text("region", post.region)
        if post.event_id:
            doc.add_text("event", post.event_id)
        if post.dup_of:
            doc.add_text("dup_of", post.dup_of)
        doc.add_text("platform", post.platform)
        if post.author.name:
            doc.add_text("author_name", post.author.name)
        doc.add_integer("reach", post_reach(post))
        doc.add_text("sentiment", post.sentiment.label if post.sentiment else "unknown")
        if post.sentiment:
            doc.add_float("score", post.sentiment.score)
        for match in post.schemes:
            doc.add_text("scheme", match.name)
        for keyword in post.keywords:
            doc.add_text("keyword", keyword)
        doc.add_integer("time", _epoch(post.time))
        # What alerts read as "arrived since": crawled, or corrected since (store.base.SearchQuery.crawled_since).
        doc.add_integer("crawled", _epoch(max(post.crawled_at, post.correction.at) if post.correction
                                          else post.crawled_at))
        return doc

    @contextmanager
    def _indexing(self) -> Iterator[tantivy.IndexWriter]:
        """The writer, for one commit; what was added is rolled back if anything fails on the way."""
        writer = self._get_writer()
        try:
            yield writer
        except BaseException as exc:
            # Uncommitted posts of earlier upserts go too; posts.db holds them, and opening indexes them again.
            self._uncommitted = 0
            writer.rollback()
            if _index_failure(exc):
                raise StoreError(f"the search index at {self._index_dir} cannot be written ({_brief(exc)})") from None
            raise

    def _commit(self, writer: tantivy.IndexWriter, seq: int) -> None:
        writer.commit()
        self._uncommitted, self._committed_at = 0, time.monotonic()
        staged = self._marker.with_suffix(".tmp")
        staged.write_text(str(seq))
        staged.replace(self._marker)  # readers see the old number or the new one, never a torn one
        assert self._index is not None  # _get_writer made sure
        self._index.reload()

    def _index_rows(self, *, everything: bool, progress: Progress | None = None) -> int:
        """Index the rows the index has not seen (everything: all rows, in place of the index's content).

        One commit, so readers see the old index until the new one is complete; rows are streamed from
        one SQLite snapshot in batches, so memory stays bounded whatever the store's size.
        """
        done = 0
        with self._indexing() as writer, self._records():
            since = 0 if everything else self._indexed_seq()
            self._db.execute("BEGIN")  # the rows read and the sequence they reach, from one snapshot
            try:
                seq = self._max_seq()
                total = self._db.execute("SELECT COUNT(*) FROM posts WHERE seq > ?", (since,)).fetchone()[0]
                if self._uncommitted:  # they are among the rows read below; delete_all_documents would miss them
                    writer.rollback()
                    self._uncommitted = 0
                if everything:
                    writer.delete_all_documents()
                cursor = self._db.execute("SELECT id, doc FROM posts WHERE seq > ?", (since,))
                while batch := cursor.fetchmany(_BATCH):
                    for post_id, doc in batch:
                        if not everything:
                            writer.delete_documents_by_term("id", post_id)
                        writer.add_document(self._document(self._parse(post_id, doc)))
                    done += len(batch)
                    if progress:
                        progress(done, total)
            finally:
                self._db.execute("ROLLBACK")
            self._commit(writer, seq)
        return done

    def _replace_index(self) -> None:
        """An index that cannot be read holds nothing worth saving (no post bodies): start a fresh one."""
        log.warning("the search index at %s cannot be read (%s): replacing it", self._index_dir, self._unreadable)
        self._writer = None  # one on the old index, if any: dropping it stops its threads and frees its lock
        try:
            if self._index_dir.exists():
                shutil.rmtree(self._index_dir)
            self._index_dir.mkdir()
            self._index = tantivy.Index(self._schema, path=str(self._index_dir))
        except OSError as exc:
            raise StoreError(f"the broken search index at {self._index_dir} cannot be replaced ({exc}); "
                             "remove it by hand, then run `yuqing reindex`") from None

    def upsert(self, posts: Iterable[Post]) -> UpsertResult:
        batch = list({p.id: p for p in posts}.values())  # the last version of a post in one batch wins
        if not batch:
            return UpsertResult()
        with self._lock:
            self._get_writer()  # fail before touching SQLite if another process holds the index
            result, seq, batch = self._write_records(batch)
            with self._indexing() as writer:
                # Only a post posts.db held before can be in the index: each delete is looked up in every
                # segment at commit, a cost that grows with the store.
                for post_id in result.updated:
                    writer.delete_documents_by_term("id", post_id)
                for post in batch:
                    writer.add_document(self._document(post))
                self._uncommitted += len(batch)
                self._uncommitted_seq = seq
                if (not self._bulk or self._uncommitted >= _COMMIT_POSTS
                        or time.monotonic() - self._committed_at >= _COMMIT_SECONDS):
                    self._commit(writer, seq)
        return result

    @contextmanager
    def bulk(self) -> Iterator[None]:
        with self._lock:
            self._bulk += 1
        try:
            yield
        finally:
            with self._lock:
                self._bulk -= 1
                if not self._bulk:
                    self._publish()

    def _publish(self) -> None:
        """Commit what upserts added since the last commit (the caller holds self._lock)."""
        if self._uncommitted and self._writer is not None:
            with self._indexing() as writer:
                self._commit(writer, self._uncommitted_seq)

    def correct(self, post_id: str, correction: Correction) -> Post | None:
        with self._lock:  # no upsert of this process between the read and the write; other processes hold none
            post = self.get(post_id)
            if post is None:
                return None
            corrected = post.with_correction(correction.merged(post.correction))
            self.upsert([corrected])
            self._publish()  # at once for every process, even inside a bulk block
        return corrected

    def corrections(self) -> Iterator[Post]:
        after = ""
        while True:  # a batch a query: no read transaction stays open while the caller works
            with self._records():
                rows = self._reader().execute(
                    "SELECT id, doc FROM posts WHERE json_extract(doc, '$.correction') IS NOT NULL "
                    "AND id > ? ORDER BY id LIMIT ?", (after, _BATCH)).fetchall()
            for after, doc in rows:
                yield self._parse(after, doc)
            if len(rows) < _BATCH:
                return

    # ---- events: rows of posts.db beside the posts; the search index holds none of them ----
    def upsert_alerts(self, alerts: Iterable[AlertCopy]) -> dict[str, str]:
        # No copy: nothing reads alerts from this store. The dashboard and reports read the alert state itself
        # (alerts.db beside this store, or [alerts] state_url), which holds every alert already.
        return {}

    def upsert_events(self, events: Iterable[Event]) -> None:
        rows = [(e.id, epoch_ms(e.last_seen), e.risk, e.model_dump_json()) for e in {e.id: e for e in events}.values()]
        if not rows:
            return
        with self._lock, self._records():
            self._hold_writer_lock()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO events (id, last_seen, risk, doc) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
                    "SET last_seen = excluded.last_seen, risk = excluded.risk, doc = excluded.doc", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _has_events(self, db: sqlite3.Connection) -> bool:
        """A posts.db of an older version has no events table until a writer opens it."""
        return bool(db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone())

    def _event(self, event_id: str, doc: str) -> Event:
        try:
            return Event.model_validate_json(doc)
        except pydantic.ValidationError as exc:
            raise StoreError(f"{self._records_file} is damaged: event {event_id} cannot be read "
                             f"({_brief(exc)}); restore it from a backup") from None

    def get_event(self, event_id: str) -> Event | None:
        with self._records():
            db = self._reader()
            row = db.execute("SELECT doc FROM events WHERE id = ?", (event_id,)).fetchone() if self._has_events(db) else None
        return self._event(event_id, row[0]) if row else None

    def events(self, query: EventQuery) -> list[Event]:
        where, values = [], []
        for operator, moment in last_seen_bounds(query, now()):
            where.append(f"last_seen {_BOUND_OPERATORS[operator]} ?")
            values.append(epoch_ms(moment))
        if query.scheme:
            where.append("EXISTS (SELECT 1 FROM json_each(doc, '$.schemes') WHERE value = ?)")
            values.append(query.scheme)
        sql = (f"SELECT id, doc FROM events {'WHERE ' + ' AND '.join(where) if where else ''} "
               f"ORDER BY {_EVENT_ORDER[query.sort]} LIMIT ? OFFSET ?")
        with self._records():
            db = self._reader()
            rows = db.execute(sql, (*values, query.limit, query.offset)).fetchall() if self._has_events(db) else []
        return [self._event(event_id, doc) for event_id, doc in rows]

    def reindex(self, progress: Progress | None = None) -> int:
        with self._lock:
            self._hold_writer_lock()
            self._check()  # refuses when posts.db has lost posts
            if self._index is None:
                self._replace_index()
            return self._index_rows(everything=True, progress=progress)

    # ---- reading ----
    def get(self, post_id: str) -> Post | None:
        with self._records():
            row = self._reader().execute("SELECT doc FROM posts WHERE id = ?", (post_id,)).fetchone()
        return self._parse(post_id, row[0]) if row else None

    def export(self, after: tuple[int, int] = (0, 0)) -> Iterator[tuple[tuple[int, int], Post]]:
        """Every post in the order it was last written, each with its place in that order, from just after
        `after`: what a copy elsewhere resumes from. A post updated meanwhile comes again, later in the order.
        Read in batches, each a query of its own: no read transaction stays open while the caller works."""
        while True:
            with self._records():
                rows = self._reader().execute(
                    "SELECT seq, rowid, id, doc FROM posts WHERE (seq, rowid) > (?, ?) ORDER BY seq, rowid LIMIT ?",
                    (*after, _BATCH)).fetchall()
            for seq, rowid, post_id, doc in rows:
                after = (seq, rowid)
                yield after, self._parse(post_id, doc)
            if len(rows) < _BATCH:
                return

    def exportable(self, after: tuple[int, int] = (0, 0)) -> int:
        """How many posts `export(after)` would give now."""
        with self._records():
            return self._reader().execute("SELECT COUNT(*) FROM posts WHERE (seq, rowid) > (?, ?)", after).fetchone()[0]

    def _sequence(self, field: str, terms: tuple[str, ...]) -> tantivy.Query:
        if len(terms) == 1:
            return tantivy.Query.term_query(self._schema, field, terms[0])
        return tantivy.Query.phrase_query(self._schema, field, list(terms))

    def _match(self, match: Match) -> tantivy.Query:
        grams, chars = GRAM_FIELDS[match.field]
        if match.chars:
            found = self._all([(tantivy.Occur.Must, tantivy.Query.term_query(self._schema, chars, c))
                               for c in match.chars])
        else:
            found = self._sequence(grams, match.grams)
        if match.field != "text" or not match.words:
            return found
        whole = tantivy.Query.const_score_query(self._sequence(TOKENS, match.words), WHOLE_WORD_BONUS)
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, found), (tantivy.Occur.Should, whole)])

    @staticmethod
    def _all(clauses: list[tuple[tantivy.Occur, tantivy.Query]]) -> tantivy.Query:
        """All of the clauses; only exclusions exclude from every post."""
        if not any(occur != tantivy.Occur.MustNot for occur, _ in clauses):
            clauses = [*clauses, (tantivy.Occur.Must, tantivy.Query.all_query())]
        return clauses[0][1] if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def _clauses(self, node: Query) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """A query tree as the clauses of a boolean query that requires all of them."""
        if isinstance(node, And):
            return [clause for part in node.nodes for clause in self._clauses(part)]
        if isinstance(node, Not):
            return [(tantivy.Occur.MustNot, self._compile(node.node))]
        return [(tantivy.Occur.Must, self._compile(node))]

    def _compile(self, node: Query) -> tantivy.Query:
        if isinstance(node, Match):
            return self._match(node)
        if isinstance(node, Value):
            return tantivy.Query.term_query(self._schema, node.field, node.value)
        if isinstance(node, Or):
            return tantivy.Query.boolean_query([(tantivy.Occur.Should, self._compile(n)) for n in node.nodes])
        return self._all(self._clauses(node))

    def _range(self, field: str, lower: datetime | None, upper: datetime | None) -> tantivy.Query:
        return tantivy.Query.range_query(
            self._schema, field, tantivy.FieldType.Integer,
            _epoch(lower) if lower else -(2**62), _epoch(upper) if upper else 2**62,
        )

    def _query(self, query: SearchQuery) -> tantivy.Query:
        clauses = self._clauses(query.text) if query.text is not None else []
        for field, value in (("sentiment", query.sentiment), ("source", query.source),
                             ("platform", query.platform), ("scheme", query.scheme), ("event", query.event_id),
                             ("dup_of", query.dup_of)):
            if value:
                clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(self._schema, field, value)))
        if query.since or query.until:
            clauses.append((tantivy.Occur.Must, self._range("time", query.since, query.until)))
        if query.crawled_since:
            clauses.append((tantivy.Occur.Must, self._range("crawled", query.crawled_since, None)))
        return self._all(clauses)

    @contextmanager
    def _searching(self) -> Iterator[tantivy.Searcher]:
        """A searcher on the latest commit (another process may have committed since); damage said plainly."""
        if self._index is None:
            raise StoreError(f"the search index at {self._index_dir} cannot be read ({self._unreadable}); "
                             "run `yuqing reindex`")
        try:
            self._index.reload()
            searcher = self._index.searcher()  # damage shows here, before a commit would read damaged segments
            # What this process upserted is committed first, unless an upsert is under way in another thread
            # (then the read sees the last commit, as readers of other processes do).
            if self._uncommitted and self._lock.acquire(blocking=False):
                try:
                    self._publish()  # its commit reloads the index
                finally:
                    self._lock.release()
                searcher = self._index.searcher()
            yield searcher
        except BaseException as exc:
            if not _index_failure(exc):
                raise
            raise StoreError(f"the search index at {self._index_dir} cannot be read ({_brief(exc)}); "
                             "run `yuqing reindex`") from None

    def search(self, query: SearchQuery) -> SearchResult:
        compiled = self._query(query)
        wanted = max(1, query.offset + query.limit)
        with self._searching() as searcher:
            if query.sort == "time":
                hits = searcher.search(compiled, wanted, count=True, order_by_field="time", order=tantivy.Order.Desc)
            else:
                hits = searcher.search(compiled, wanted, count=True)
            ids = [searcher.doc(address)["id"][0] for _, address in hits.hits[query.offset:]]
        posts = self._load(ids)
        return SearchResult(total=hits.count or 0, posts=[posts[i] for i in ids if i in posts])

    def _load(self, ids: list[str]) -> dict[str, Post]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._records():
            rows = self._reader().execute(f"SELECT id, doc FROM posts WHERE id IN ({marks})", ids).fetchall()
        return {row[0]: self._parse(row[0], row[1]) for row in rows}

    def count(self, query: SearchQuery) -> int:
        compiled = self._query(query)
        with self._searching() as searcher:
            return searcher.search(compiled, 1, count=True).count or 0

    def _buckets(self, query: SearchQuery, field: str, size: int = _UNCUT, aggs: dict[str, Any] | None = None
                 ) -> list[dict[str, Any]]:
        """The `size` most frequent values of `field` among the matching posts, with their exact counts (and
        `aggs`, if any)."""
        spec: dict[str, Any] = {"t": {"terms": {"field": field, "size": size, "segment_size": _UNCUT}}}
        if aggs:
            spec["t"]["aggs"] = aggs
        compiled = self._query(query)
        with self._searching() as searcher:
            return searcher.aggregate(compiled, spec)["t"]["buckets"]

    def _terms(self, query: SearchQuery, field: str, size: int) -> list[tuple[str, int]]:
        return [(b["key"], b["doc_count"]) for b in self._buckets(query, field, size)]

    def top_keywords(self, query: SearchQuery, size: int = 20) -> list[tuple[str, int]]:
        return self._terms(query, "keyword", size)

    def breakdown(self, query: SearchQuery, field: Breakdown, size: int = 20) -> list[tuple[str, int]]:
        if field == "sentiment":  # a post without sentiment is indexed as "unknown", which the cluster leaves out
            return [(key, n) for key, n in self._terms(query, field, size + 1) if key != "unknown"][:size]
        return self._terms(query, field, size)

    def top_authors(self, query: SearchQuery, size: int = 10) -> list[AuthorReach]:
        found = [AuthorReach(b["key"], b["doc_count"], int(b["r"]["value"] or 0))
                 for b in self._buckets(query, "author_name", aggs={"r": {"sum": {"field": "reach"}}})]
        return sorted(found, key=lambda a: (-a.reach, -a.posts, a.name))[:size]

    def volume(self, query: SearchQuery, interval: Interval = "hour") -> list[VolumeBucket]:
        step, offset = bucket_offset(interval)
        spec = {"h": {"histogram": {"field": "time", "interval": step, "offset": offset},
                      "aggs": {"s": {"terms": {"field": "sentiment", "size": 10}}}}}
        compiled = self._query(query)
        with self._searching() as searcher:
            result = searcher.aggregate(compiled, spec)
        found = {
            int(b["key"]): {s["key"]: s["doc_count"] for s in b["s"]["buckets"]}
            for b in result["h"]["buckets"] if b["doc_count"]
        }
        return volume_buckets(found, query, interval)

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                try:
                    self._publish()
                except StoreError as exc:  # posts.db holds the posts: the next open indexes them
                    log.warning("%s", exc)
                self._writer.wait_merging_threads()
                self._writer = None
            if self._writer_lock is not None:
                self._writer_lock.close()  # releases the lock
                self._writer_lock = None
            for db in [self._db, *self._reader_connections]:
                db.close()
