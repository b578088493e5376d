"""The embedded store when its files are damaged, deleted or disagree, and when it is read while written.

Every fault is made for real on the files of a small store; the command line is run as a user runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import tantivy

from analysis.grams import index_grams
from store.base import SearchQuery, StoreError
from store.embedded import EmbeddedStore
from tests.store.conftest import make_post, parse

ROOT = Path(__file__).resolve().parents[2]
POSTS = 300
Damage = Callable[[Path], object]  # done to a store's folder, or to its posts.db


def build(folder: Path, count: int = POSTS, first: int = 0) -> Path:
    """A store of `count` posts, written in three upserts (three index segments)."""
    with EmbeddedStore(folder, grams=index_grams) as store:
        step = max(1, count // 3)
        for start in range(first, first + count, step):
            store.upsert(make_post(n, f"北辰 乙醇 帖子{n % 7}", hours=n / 60)
                         for n in range(start, min(start + step, first + count)))
    return folder


def total(folder: Path) -> int:
    with EmbeddedStore(folder, readonly=True) as store:
        return store.count(SearchQuery())


def index_docs(folder: Path) -> int:
    """What the index holds, read by tantivy itself: proof that nothing destroyed it."""
    return tantivy.Index.open(str(folder / "index")).searcher().num_docs


def yuqing(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = folder.parent / "yuqing.toml"
    config.write_text(f'[store]\npath = "{folder.as_posix()}"\n', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "yuqing.cli", *args, "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def failed_plainly(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 1 and one line of error at the end of stderr, no traceback; returns that line."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("yuqing: store error: "), done.stderr
    for word in words:
        assert word in last, last
    return last


def overwrite(path: Path, at: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(at)
        handle.write(data)


# ---- the index disagrees with the record of truth ----

def empty_by_commit(folder: Path) -> None:
    """A valid index with no documents in it (e.g. a rebuild that died after clearing it)."""
    index = tantivy.Index.open(str(folder / "index"))
    writer = index.writer(15_000_000, 1)
    writer.delete_all_documents()
    writer.commit()
    writer.wait_merging_threads()


def delete_contents(folder: Path) -> None:
    for item in (folder / "index").iterdir():
        item.unlink()


INDEX_LOSSES = {
    "folder deleted": lambda folder: shutil.rmtree(folder / "index"),
    "folder emptied": delete_contents,
    "meta.json deleted": lambda folder: (folder / "index" / "meta.json").unlink(),
    "emptied by a commit": empty_by_commit,
}


@pytest.mark.parametrize("lose", INDEX_LOSSES.values(), ids=INDEX_LOSSES.keys())
def test_an_index_that_lost_posts_is_reported_read_only_and_rebuilt_by_a_writer(tmp_path: Path,
                                                                                  lose: Damage) -> None:
    folder = build(tmp_path / "var")
    lose(folder)
    with pytest.raises(StoreError, match="yuqing reindex"):
        EmbeddedStore(folder, readonly=True)
    with EmbeddedStore(folder, grams=index_grams) as store:  # the writer rebuilds it by itself
        assert store.count(SearchQuery()) == POSTS
    assert total(folder) == POSTS


def test_search_says_so_and_reindex_rebuilds_when_the_index_folder_is_gone(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    shutil.rmtree(folder / "index")
    failed_plainly(yuqing(folder, "search"), "yuqing reindex")
    done = yuqing(folder, "reindex")
    assert done.returncode == 0 and f"reindexed {POSTS} posts" in done.stdout, done.stderr
    assert f"{POSTS}/{POSTS}" in done.stderr  # the progress bar
    done = yuqing(folder, "search", "--format", "json", "--limit", "1000")
    assert done.returncode == 0 and f'"total": {POSTS}' in done.stdout, done.stderr


def index_of_an_earlier_version(folder: Path) -> None:
    """The index as an earlier version built it: every post, jieba's words, none of the gram fields."""
    shutil.rmtree(folder / "index")
    (folder / "index").mkdir()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("tokens", tokenizer_name="whitespace", index_option="position")
    index = tantivy.Index(builder.build(), path=str(folder / "index"))
    writer = index.writer(15_000_000, 1)
    for n in range(POSTS):
        writer.add_document(tantivy.Document(id=f"news:{n}", tokens="北辰 乙醇"))
    writer.commit()
    writer.wait_merging_threads()


def test_an_index_of_an_earlier_version_is_rebuilt_by_a_writer_and_named_read_only(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    index_of_an_earlier_version(folder)
    assert index_docs(folder) == POSTS  # it agrees with posts.db in all but its fields
    with pytest.raises(StoreError, match="another version of yuqing.*run `yuqing reindex`"):
        EmbeddedStore(folder, readonly=True)
    failed_plainly(yuqing(folder, "search", "北辰"), "another version of yuqing", "yuqing reindex")
    with EmbeddedStore(folder, grams=index_grams) as store:  # the service's way in: it rebuilds
        assert store.count(SearchQuery(text=parse("辰乙"))) == POSTS  # a gram of 北辰乙醇
    assert total(folder) == POSTS


# ---- the record of truth lost posts the index still has ----

RECORD_LOSSES = {
    "truncated to 0 bytes": (lambda db: os.truncate(db, 0), "holds 0 posts"),
    "deleted": (lambda db: db.unlink(), "is missing"),
}


@pytest.mark.parametrize("lose, said", RECORD_LOSSES.values(), ids=RECORD_LOSSES.keys())
def test_a_posts_db_that_lost_its_posts_is_never_reindexed_into_an_empty_index(tmp_path: Path, lose: Damage,
                                                                               said: str) -> None:
    folder = build(tmp_path / "var")
    backup = tmp_path / "posts.db.bak"
    shutil.copy(folder / "posts.db", backup)
    lose(folder / "posts.db")
    left = sorted(folder.iterdir())

    for opening in ({"readonly": True}, {}, {"repair": False}):
        with pytest.raises(StoreError, match="has lost posts.*Restore posts.db from a backup"):
            EmbeddedStore(folder, grams=index_grams, **opening)
    assert sorted(folder.iterdir()) == left  # nothing created
    assert not (folder / "posts.db").exists() or (folder / "posts.db").stat().st_size == 0  # nor written
    failed_plainly(yuqing(folder, "search"), "posts.db has lost posts", said, "holds")
    failed_plainly(yuqing(folder, "reindex"), "posts.db has lost posts", "index alone cannot rebuild posts")
    assert index_docs(folder) == POSTS

    shutil.copy(backup, folder / "posts.db")  # what the message says to do
    assert total(folder) == POSTS


def test_posts_db_restored_from_an_older_backup_is_not_reindexed(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    older = tmp_path / "older.db"
    shutil.copy(folder / "posts.db", older)
    build(folder, 60, first=POSTS)
    shutil.copy(older, folder / "posts.db")
    with pytest.raises(StoreError, match=f"holds {POSTS} posts .* holds {POSTS + 60} posts"):
        EmbeddedStore(folder, grams=index_grams)
    # Keeping the older posts.db on purpose, as the message says: delete the index and its marker, reindex.
    shutil.rmtree(folder / "index")
    (folder / "index.seq").unlink()
    with EmbeddedStore(folder, grams=index_grams, repair=False) as store:
        assert store.reindex() == POSTS


# ---- a damaged index ----

def truncate_a_segment(ext: str, in_place: bool = False) -> Damage:
    """Half of one segment's file of that kind. Unless `in_place`, the half replaces the file (a new inode): tantivy
    maps its files, and a mapping this test process may still hold (a reader's background thread that has not
    ended yet) would die of SIGBUS on a file truncated under it, where the next open must only find the damage."""
    def damage(folder: Path) -> None:
        segment = sorted((folder / "index").glob(f"*.{ext}"))[0]
        if in_place:
            os.truncate(segment, segment.stat().st_size // 2)
            return
        half = segment.with_name(segment.name + ".half")
        half.write_bytes(segment.read_bytes()[: segment.stat().st_size // 2])
        half.replace(segment)
    return damage


INDEX_DAMAGE = {
    "meta.json truncated": lambda folder: os.truncate(folder / "index" / "meta.json", 100),
    "meta.json overwritten": lambda folder: overwrite(folder / "index" / "meta.json", 0, b"\xff\xfe garbage" * 8),
    ".managed.json overwritten": lambda folder: (folder / "index" / ".managed.json").write_bytes(b"{\"oops"),
    "postings truncated": truncate_a_segment("idx"),
    "terms truncated": truncate_a_segment("term"),
    "doc store truncated": truncate_a_segment("store"),
    "fast fields truncated": truncate_a_segment("fast"),
    "segment file deleted": lambda folder: sorted((folder / "index").glob("*.pos"))[0].unlink(),
}


@pytest.mark.parametrize("damage", INDEX_DAMAGE.values(), ids=INDEX_DAMAGE.keys())
def test_a_damaged_index_is_reported_and_reindex_rebuilds_it_from_nothing(tmp_path: Path, damage: Damage) -> None:
    folder = build(tmp_path / "var")
    damage(folder)
    with pytest.raises(StoreError, match="search index .* cannot be read .*run `yuqing reindex`"):
        EmbeddedStore(folder, readonly=True)
    with EmbeddedStore(folder, grams=index_grams, repair=False) as store:
        assert store.reindex() == POSTS
    assert total(folder) == POSTS and index_docs(folder) == POSTS


def test_reindex_command_and_a_writer_both_rebuild_a_damaged_index(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    os.truncate(folder / "index" / "meta.json", 10)
    failed_plainly(yuqing(folder, "search"), "cannot be read", "yuqing reindex")
    done = yuqing(folder, "reindex")
    assert done.returncode == 0 and f"reindexed {POSTS} posts" in done.stdout, done.stderr
    assert total(folder) == POSTS

    truncate_a_segment("term")(folder)
    with EmbeddedStore(folder, grams=index_grams) as store:  # the service's way in: it has the writer, so it repairs
        assert store.count(SearchQuery()) == POSTS
        assert len(store.search(SearchQuery(limit=500)).posts) == POSTS


def test_a_store_open_for_writing_reindexes_an_index_damaged_under_it(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    with EmbeddedStore(folder, grams=index_grams) as store:
        store.upsert([make_post(POSTS, "北辰 新 帖子")])  # the writer is open on the old index
        truncate_a_segment("term", in_place=True)(folder)  # under the open writer and its reader
        with pytest.raises(StoreError, match="cannot be read .*run `yuqing reindex`"):
            store.count(SearchQuery())
        assert store.reindex() == POSTS + 1
        store.upsert([make_post(POSTS + 1, "北辰 又 一 帖")])
    assert total(folder) == POSTS + 2


def test_damage_found_only_at_search_time_is_a_store_error_and_reindex_repairs_it(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    for ext in ("store", "fast"):  # bytes overwritten inside: the files still open, reading them fails
        for segment in (folder / "index").glob(f"*.{ext}"):
            overwrite(segment, segment.stat().st_size // 3, b"\xff" * 64)
    with EmbeddedStore(folder, readonly=True) as store:
        with pytest.raises(StoreError, match="cannot be read .*run `yuqing reindex`"):
            store.search(SearchQuery(limit=500))
        with pytest.raises(StoreError, match="cannot be read .*run `yuqing reindex`"):
            store.volume(SearchQuery())  # a panic inside tantivy, said as plainly
    with EmbeddedStore(folder, grams=index_grams, repair=False) as store:
        assert store.reindex() == POSTS
    with EmbeddedStore(folder, readonly=True) as store:
        assert len(store.search(SearchQuery(limit=500)).posts) == POSTS
        assert sum(b.total for b in store.volume(SearchQuery())) == POSTS


# ---- a damaged posts.db ----

RECORD_DAMAGE = {
    "not a database": lambda db: db.write_text("id,title\n1,北辰\n" * 200, encoding="utf-8"),
    "header overwritten": lambda db: overwrite(db, 0, b"\0" * 100),
    "truncated mid-file": lambda db: os.truncate(db, db.stat().st_size // 2),
}


@pytest.mark.parametrize("damage", RECORD_DAMAGE.values(), ids=RECORD_DAMAGE.keys())
def test_a_damaged_posts_db_is_named_with_what_to_do(tmp_path: Path, damage: Damage) -> None:
    folder = build(tmp_path / "var")
    damage(folder / "posts.db")
    for opening in ({"readonly": True}, {}):
        with pytest.raises(StoreError, match="posts.db is damaged .*restore it from a backup"):
            EmbeddedStore(folder, grams=index_grams, **opening)
    failed_plainly(yuqing(folder, "search"), "posts.db is damaged", "restore it from a backup")
    failed_plainly(yuqing(folder, "reindex"), "posts.db is damaged", "restore it from a backup")
    assert index_docs(folder) == POSTS


def test_pages_overwritten_inside_posts_db_stop_reindex_and_keep_the_old_index(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")
    db = folder / "posts.db"
    overwrite(db, db.stat().st_size // 2, bytes(range(256)) * 32)  # 8 KB of table pages, header intact
    with EmbeddedStore(folder, grams=index_grams, repair=False) as store:
        with pytest.raises(StoreError, match="posts.db is damaged"):
            store.reindex()
    failed_plainly(yuqing(folder, "reindex"), "posts.db is damaged")
    assert index_docs(folder) == POSTS  # the failed rebuild was rolled back, never committed


# ---- read-only opening ----

WRITER = """
import sys
from pathlib import Path
from analysis.grams import index_grams
from store.embedded import EmbeddedStore
from tests.store.conftest import make_post, parse
folder, stop = Path(sys.argv[1]), Path(sys.argv[2])
n = 0
with EmbeddedStore(folder, grams=index_grams) as store:
    print("ready", flush=True)
    while not stop.exists():
        store.upsert(make_post(n + i, f"北辰 突发 帖子{i}", hours=n / 1000) for i in range(50))
        n += 50
print(n, flush=True)
"""


def test_read_only_opens_never_fail_while_a_writer_ingests_bursts(tmp_path: Path) -> None:
    folder, stop = tmp_path / "var", tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(stop)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[int] = []
    failures: list[str] = []
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready", writer.stderr
        deadline = time.monotonic() + 60
        while (len(seen) + len(failures) < 100 or len(set(seen)) < 20) and time.monotonic() < deadline:
            try:
                with EmbeddedStore(folder, readonly=True) as store:
                    seen.append(store.count(SearchQuery()))
                    store.search(SearchQuery(limit=5))
                    store.top_keywords(SearchQuery())
            except StoreError as exc:
                failures.append(str(exc))
            time.sleep(0.002)
        stop.touch()
        written = int(writer.stdout.readline())
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert failures == []
    assert seen == sorted(seen) and len(set(seen)) >= 20  # it read while the writer wrote, and never went back
    assert total(folder) == written


def test_read_only_store_writes_nothing(tmp_path: Path) -> None:
    folder = build(tmp_path / "var")

    def files() -> dict[Path, tuple[int, int]]:  # SQLite's own -wal and -shm aside
        return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")
                if p.is_file() and not p.name.endswith(("-wal", "-shm"))}

    before = files()
    with EmbeddedStore(folder, readonly=True) as store:
        with pytest.raises(StoreError, match="read-only"):
            store.upsert([make_post(9999, "新 帖子")])
        with pytest.raises(StoreError, match="read-only"):
            store.reindex()
        assert store.count(SearchQuery()) == POSTS
    assert files() == before
    with pytest.raises(StoreError, match="no posts stored under"):
        EmbeddedStore(tmp_path / "nothing", readonly=True)
    assert not (tmp_path / "nothing").exists()


# ---- reindex memory ----

def test_reindex_streams_with_bounded_memory(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    words = " ".join(f"词{i}" for i in range(400))  # an article: ~4,000 characters a post, tokens included
    with EmbeddedStore(folder, grams=index_grams) as store:
        store.upsert(make_post(n, f"{n} {words}") for n in range(5000))
        rows = store._db.execute("SELECT SUM(LENGTH(doc)) FROM posts").fetchone()[0]
        tracemalloc.start()
        try:
            assert store.reindex() == 5000
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Loading every row at once holds all the documents (2 bytes a character): batches hold a fifth of that.
    assert peak < rows, (peak, rows)
