"""When the embedded store commits its index. An upsert commits at once, except inside `bulk` (ingest's backlog),
where the writing process sees its upserts at once and other processes see them every so many posts or
seconds and when the block ends; a writer killed inside the block loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import store.embedded
from analysis.grams import index_grams
from store.base import SearchQuery
from store.embedded import EmbeddedStore
from tests.store.conftest import make_post, parse

ROOT = Path(__file__).resolve().parents[2]


def counted_elsewhere(folder: Path) -> int:
    """What a read-only store of another process counts now."""
    code = ("import sys; from store.embedded import EmbeddedStore; from store.base import SearchQuery;"
            "s = EmbeddedStore(sys.argv[1], readonly=True); print(s.count(SearchQuery())); s.close()")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def indexed_seq(folder: Path) -> int:
    return int((folder / "index.seq").read_text())


def test_in_bulk_upserts_are_committed_every_so_many_posts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.embedded, "_COMMIT_POSTS", 5)
    with EmbeddedStore(tmp_path, grams=index_grams) as writer, writer.bulk():
        writer.upsert(make_post(n, "北辰 帖子") for n in range(3))
        assert counted_elsewhere(tmp_path) == 0 and not (tmp_path / "index.seq").exists()
        writer.upsert(make_post(n, "北辰 帖子") for n in range(3, 6))  # 6 waiting: over 5, committed
        assert counted_elsewhere(tmp_path) == 6 and indexed_seq(tmp_path) == 2


def test_in_bulk_upserts_are_committed_every_so_many_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store.embedded, "_COMMIT_SECONDS", 0.0)
    with EmbeddedStore(tmp_path, grams=index_grams) as writer, writer.bulk():
        writer.upsert([make_post(1, "北辰 帖子")])
        assert counted_elsewhere(tmp_path) == 1


def test_in_bulk_the_writer_reads_its_own_upserts_and_others_read_them_when_the_block_ends(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path, grams=index_grams) as writer:
        writer.upsert(make_post(n, "北辰 帖子") for n in range(4))
        assert counted_elsewhere(tmp_path) == 4  # outside a block: committed at once
        with writer.bulk():
            writer.upsert([make_post(4, "新 帖子 偷排污水")])
            assert counted_elsewhere(tmp_path) == 4
            assert [p.id for p in writer.search(SearchQuery(text=parse("偷排"))).posts] == ["news:4"]
            assert counted_elsewhere(tmp_path) == 5  # the read committed first
            with writer.bulk():  # blocks nest: the outer one's end commits
                writer.upsert([make_post(5, "又 一 帖")])
            assert counted_elsewhere(tmp_path) == 5
        assert counted_elsewhere(tmp_path) == 6 and indexed_seq(tmp_path) == 3


def test_closing_a_store_inside_a_bulk_block_commits(tmp_path: Path) -> None:
    writer = EmbeddedStore(tmp_path, grams=index_grams)
    with writer.bulk():
        writer.upsert(make_post(n, "北辰 帖子") for n in range(3))
        writer.close()
    assert counted_elsewhere(tmp_path) == 3


def test_a_writer_killed_inside_a_bulk_block_loses_nothing(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from analysis.grams import index_grams
        from store.embedded import EmbeddedStore
        from tests.store.conftest import make_post
        store = EmbeddedStore({str(tmp_path)!r}, grams=index_grams)
        with store.bulk():
            for start in range(0, 300, 100):
                store.upsert(make_post(n, f"北辰 乙醇 帖子{{n}}") for n in range(start, start + 100))
            print("written", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
        assert counted_elsewhere(tmp_path) == 0  # nothing committed yet
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    with EmbeddedStore(tmp_path, grams=index_grams) as reopened:  # catches the index up from posts.db
        assert reopened.count(SearchQuery()) == 300
        assert reopened.count(SearchQuery(text=parse("帖子299"))) == 1
    assert counted_elsewhere(tmp_path) == 300
