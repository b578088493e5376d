"""The single-machine store: SQLite (WAL) is the record of truth, a tantivy index answers queries.

Every upsert gives the rows it touches a new sequence number. The index remembers the last sequence
it committed (a file beside it, written after each tantivy commit), so whatever reached SQLite but not
the index before a crash is indexed again when the store opens.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import tantivy

from store.base import Interval, SearchQuery, SearchResult, Store, StoreError, UpsertResult, VolumeBucket
from store.query import Phrase, TextQuery
from models import SHANGHAI, Post, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_seq ON posts(seq);
"""
_WRITER_HEAP = 64 * 1024 * 1024
_SECONDS = {"hour": 3600, "day": 86400}
_UTC_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving time


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("tokens", tokenizer_name="whitespace", index_option="position")
    for name in ("source", "platform", "sentiment", "scheme", "keyword"):
        builder.add_text_field(name, fast=True, tokenizer_name="raw")
    builder.add_integer_field("time", fast=True, indexed=True)
    builder.add_integer_field("crawled", fast=True, indexed=True)
    return builder.build()


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


class EmbeddedStore(Store):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = self._connect()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        # Readers (dashboard threads, alert rules) get connections of their own, so a read never
        # lands inside the writer's open transaction.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._lock = threading.RLock()
        self._schema = _schema()
        index_dir = self.path / "index"
        index_dir.mkdir(exist_ok=True)
        try:
            self._index = tantivy.Index(self._schema, path=str(index_dir), reuse=True)
        except ValueError as exc:
            raise StoreError(f"the search index at {index_dir} cannot be opened ({exc}); run `yuqing reindex`") from None
        self._marker = self.path / "index.seq"
        self._writer: tantivy.IndexWriter | None = None
        if self._max_seq() > self._indexed_seq():
            self._catch_up()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path / "posts.db", check_same_thread=False, isolation_level=None)
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

    # ---- writing ----
    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(_WRITER_HEAP, 1)
            except ValueError as exc:
                raise StoreError(
                    f"the store at {self.path} is being written by another yuqing process; stop it first ({exc})"
                ) from None
        return self._writer

    def _max_seq(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM posts").fetchone()[0]

    def _indexed_seq(self) -> int:
        try:
            return int(self._marker.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def _write_records(self, posts: list[Post]) -> tuple[UpsertResult, int]:
        """The SQLite half of an upsert: one transaction; returns the sequence number it used."""
        result = UpsertResult()
        seq = self._max_seq() + 1
        stamp = now().isoformat()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for post in posts:
                known = self._db.execute("SELECT first_seen FROM posts WHERE id = ?", (post.id,)).fetchone()
                doc = post.model_dump_json()
                if known:
                    self._db.execute("UPDATE posts SET seq = ?, doc = ? WHERE id = ?", (seq, doc, post.id))
                    result.updated.append(post.id)
                else:
                    self._db.execute("INSERT INTO posts (id, seq, first_seen, doc) VALUES (?, ?, ?, ?)",
                                     (post.id, seq, stamp, doc))
                    result.inserted.append(post.id)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return result, seq

    def _document(self, post: Post) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", post.id)
        doc.add_text("tokens", " ".join(t.replace(" ", "") for t in post.tokens).lower())
        doc.add_text("source", post.source)
        doc.add_text("platform", post.platform)
        doc.add_text("sentiment", post.sentiment.label if post.sentiment else "unknown")
        for match in post.schemes:
            doc.add_text("scheme", match.name)
        for keyword in post.keywords:
            doc.add_text("keyword", keyword)
        doc.add_integer("time", _epoch(post.time))
        doc.add_integer("crawled", _epoch(post.crawled_at))
        return doc

    def _index_posts(self, posts: Iterable[Post], seq: int) -> None:
        writer = self._get_writer()
        for post in posts:
            writer.delete_documents_by_term("id", post.id)
            writer.add_document(self._document(post))
        writer.commit()
        self._marker.write_text(str(seq))
        self._index.reload()

    def _catch_up(self) -> None:
        since = self._indexed_seq()
        rows = self._db.execute("SELECT doc FROM posts WHERE seq > ? ORDER BY seq", (since,)).fetchall()
        self._index_posts((Post.model_validate_json(r[0]) for r in rows), self._max_seq())

    def upsert(self, posts: Iterable[Post]) -> UpsertResult:
        batch = list({p.id: p for p in posts}.values())  # the last version of a post in one batch wins
        if not batch:
            return UpsertResult()
        with self._lock:
            self._get_writer()  # fail before touching SQLite if another process holds the index
            result, seq = self._write_records(batch)
            self._index_posts(batch, seq)
        return result

    def reindex(self) -> int:
        with self._lock:
            writer = self._get_writer()
            writer.delete_all_documents()
            writer.commit()
            self._marker.write_text("0")
            count = self._db.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
            self._catch_up()
        return count

    # ---- reading ----
    def get(self, post_id: str) -> Post | None:
        row = self._reader().execute("SELECT doc FROM posts WHERE id = ?", (post_id,)).fetchone()
        return Post.model_validate_json(row[0]) if row else None

    def _phrase(self, phrase: Phrase) -> tantivy.Query:
        tokens = [t.lower() for t in phrase.tokens]
        if len(tokens) == 1:
            return tantivy.Query.term_query(self._schema, "tokens", tokens[0])
        return tantivy.Query.phrase_query(self._schema, "tokens", tokens)

    def _text(self, text: TextQuery) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        clauses = []
        for group in text.must:
            alternatives = [(tantivy.Occur.Should, self._phrase(p)) for p in group]
            clauses.append((tantivy.Occur.Must, alternatives[0][1] if len(alternatives) == 1
                            else tantivy.Query.boolean_query(alternatives)))
        for phrase in text.exclude:
            clauses.append((tantivy.Occur.MustNot, self._phrase(phrase)))
        return clauses

    def _range(self, field: str, lower: datetime | None, upper: datetime | None) -> tantivy.Query:
        return tantivy.Query.range_query(
            self._schema, field, tantivy.FieldType.Integer,
            _epoch(lower) if lower else -(2**62), _epoch(upper) if upper else 2**62,
        )

    def _query(self, query: SearchQuery) -> tantivy.Query:
        clauses = self._text(query.text)
        for field, value in (("sentiment", query.sentiment), ("source", query.source),
                             ("platform", query.platform), ("scheme", query.scheme)):
            if value:
                clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(self._schema, field, value)))
        if query.since or query.until:
            clauses.append((tantivy.Occur.Must, self._range("time", query.since, query.until)))
        if query.crawled_since:
            clauses.append((tantivy.Occur.Must, self._range("crawled", query.crawled_since, None)))
        if not any(occur != tantivy.Occur.MustNot for occur, _ in clauses):
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def _searcher(self) -> tantivy.Searcher:
        self._index.reload()  # another process may have committed since
        return self._index.searcher()

    def search(self, query: SearchQuery) -> SearchResult:
        searcher = self._searcher()
        compiled = self._query(query)
        wanted = max(1, query.offset + query.limit)
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
        rows = self._reader().execute(f"SELECT id, doc FROM posts WHERE id IN ({marks})", ids).fetchall()
        return {row[0]: Post.model_validate_json(row[1]) for row in rows}

    def count(self, query: SearchQuery) -> int:
        return self._searcher().search(self._query(query), 1, count=True).count or 0

    def _terms(self, query: SearchQuery, field: str, size: int) -> list[tuple[str, int]]:
        result = self._searcher().aggregate(self._query(query), {"t": {"terms": {"field": field, "size": size}}})
        return [(b["key"], b["doc_count"]) for b in result["t"]["buckets"]]

    def top_keywords(self, query: SearchQuery, size: int = 20) -> list[tuple[str, int]]:
        return self._terms(query, "keyword", size)

    def by_source(self, query: SearchQuery, size: int = 20) -> list[tuple[str, int]]:
        return self._terms(query, "source", size)

    def volume(self, query: SearchQuery, interval: Interval = "hour") -> list[VolumeBucket]:
        step = _SECONDS[interval]
        # Buckets start at Shanghai midnight / the hour: shift the histogram by the UTC offset.
        offset = (-_UTC_OFFSET) % step
        spec = {"h": {"histogram": {"field": "time", "interval": step, "offset": offset},
                      "aggs": {"s": {"terms": {"field": "sentiment", "size": 10}}}}}
        result = self._searcher().aggregate(self._query(query), spec)
        found = {
            int(b["key"]): {s["key"]: s["doc_count"] for s in b["s"]["buckets"]}
            for b in result["h"]["buckets"] if b["doc_count"]
        }
        if not found and not query.since:
            return []

        def floor(moment: datetime) -> int:
            t = _epoch(moment)
            return t - ((t - offset) % step)

        first = floor(query.since) if query.since else min(found)
        # An open-ended range runs to now when it has a start, else to the last post.
        last = floor(query.until) if query.until else floor(now()) if query.since else max(found)
        if found:
            first, last = min(first, min(found)), max(last, max(found))
        buckets = []
        for start in range(first, last + 1, step):
            counts = found.get(start, {})
            buckets.append(VolumeBucket(datetime.fromtimestamp(start, SHANGHAI), sum(counts.values()), counts))
        return buckets

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None
            for db in [self._db, *self._reader_connections]:
                db.close()
