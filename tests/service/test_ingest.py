"""Spool → analysis → store: nothing collected is lost, nothing is stored twice."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from analysis.grams import index_grams
from analysis.pipeline import Analyzer
from settings import Scheme
from store.base import SearchQuery
from store.embedded import EmbeddedStore
from yuqing.ingest import Ingester


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer([Scheme(name="co", keywords=["北辰燃料乙醇"])])


def item(n: int, title: str = "北辰燃料乙醇新闻", **extra: object) -> dict:
    return {"url": f"http://127.0.0.1/a/{n}.html", "source": "s", "platform": "news", "title": title,
            "content": f"正文{n}", "published_at": "2024-03-12T08:30:00+08:00", **extra}


def spool(folder: Path, name: str, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_analyses_stores_and_removes_the_file(tmp_path: Path, analyzer: Analyzer) -> None:
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        path = spool(tmp_path / "spool", "s-1-1.jsonl", [json.dumps(item(i), ensure_ascii=False) for i in range(3)])
        report = Ingester(tmp_path / "spool", analyzer, store).run()
        assert (report.files, report.posts, len(report.inserted), report.rejected) == (1, 3, 3, 0)
        assert not path.exists()
        post = store.search(SearchQuery(scheme="co", limit=1)).posts[0]
        assert post.tokens and post.sentiment is not None and post.schemes[0].terms == ["北辰燃料乙醇"]


def test_bad_lines_are_kept_aside_with_their_reason(tmp_path: Path, analyzer: Analyzer) -> None:
    lines = [json.dumps(item(1), ensure_ascii=False), "{not json", json.dumps({"title": "no url"}),
             json.dumps(item(2, published_at="not a time"), ensure_ascii=False), "[" * 100_000 + "]" * 100_000,
             json.dumps(item(3), ensure_ascii=False), ""]
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        spool(tmp_path / "spool", "s-1-1.jsonl", lines)
        report = Ingester(tmp_path / "spool", analyzer, store).run()
        assert report.posts == 2 and report.rejected == 4
        rejected = [json.loads(line) for line in
                    (tmp_path / "spool" / "rejected" / "s-1-1.rejected.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [r["line"] for r in rejected] == [2, 3, 4, 5]
        assert rejected[0]["raw"] == "{not json" and "url" in rejected[1]["reason"]


def test_a_store_failure_keeps_the_spool_file(tmp_path: Path, analyzer: Analyzer) -> None:
    class FailingStore(EmbeddedStore):
        def upsert(self, posts):  # noqa: ANN001, ANN201 - the real store, failing as a full disk would
            raise OSError("disk full")

    path = spool(tmp_path / "spool", "s-1-1.jsonl", [json.dumps(item(1), ensure_ascii=False)])
    with FailingStore(tmp_path / "store", grams=index_grams) as broken, pytest.raises(OSError):
        Ingester(tmp_path / "spool", analyzer, broken).run()
    assert path.exists()
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        assert Ingester(tmp_path / "spool", analyzer, store).run().posts == 1
        assert store.count(SearchQuery()) == 1 and not path.exists()


def test_unfinished_files_of_dead_crawlers_are_taken_and_live_ones_left(tmp_path: Path, analyzer: Analyzer) -> None:
    line = json.dumps(item(1), ensure_ascii=False)
    dead = spool(tmp_path / "spool", "s-1-999999999.jsonl.part", [line])
    live = spool(tmp_path / "spool", f"s-2-{os.getpid()}.jsonl.part", [json.dumps(item(2), ensure_ascii=False)])
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        report = Ingester(tmp_path / "spool", analyzer, store).run()
        assert report.posts == 1 and not dead.exists() and live.exists()


def test_the_same_post_twice_is_stored_once(tmp_path: Path, analyzer: Analyzer) -> None:
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        ingester = Ingester(tmp_path / "spool", analyzer, store)
        spool(tmp_path / "spool", "s-1-1.jsonl", [json.dumps(item(1, metrics={"comments": 1}), ensure_ascii=False)])
        ingester.run()
        spool(tmp_path / "spool", "s-2-1.jsonl", [json.dumps(item(1, metrics={"comments": 7}), ensure_ascii=False)])
        report = ingester.run()
        assert report.inserted == [] and store.count(SearchQuery()) == 1
        assert store.search(SearchQuery()).posts[0].metrics.comments == 7
