"""A spool file taken again after the store failed mid-way goes on where its stored posts end; a store that
cannot take posts is found out before any analysis is done; a post the store refuses for good is set aside."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from analysis.grams import index_grams
import settings
from analysis.pipeline import Analyzer
from models import Post
from settings import Scheme
from store.base import SearchQuery, StoreError, UpsertResult
from store.elastic import ElasticStore
from store.embedded import EmbeddedStore
from tests.service.test_ingest import item, spool
from tests.store.clusters import Cluster, free_port
from yuqing.ingest import Ingester, spool_depth


class CountingAnalyzer(Analyzer):
    """The real analyzer, counting the posts it analyses."""

    analysed = 0

    def analyse_many(self, posts: Sequence[Post]) -> list[Post]:
        self.analysed += len(posts)
        return super().analyse_many(posts)


@pytest.fixture
def analyzer() -> CountingAnalyzer:
    return CountingAnalyzer([Scheme(name="co", keywords=["北辰燃料乙醇"])])


class StoreFailingOnce(EmbeddedStore):
    """The real store, whose second upsert fails as a store that goes away would."""

    calls = 0

    def upsert(self, posts: object) -> UpsertResult:
        self.calls += 1
        if self.calls == 2:
            raise StoreError("the store went away")
        return super().upsert(posts)  # type: ignore[arg-type]


def test_a_file_taken_again_goes_on_after_its_stored_posts(tmp_path: Path, analyzer: CountingAnalyzer) -> None:
    lines = [json.dumps(item(n), ensure_ascii=False) for n in range(1200)]
    lines.insert(3, "{not json")  # a bad line among the first stored: set aside once, not at every try
    path = spool(tmp_path / "spool", "s-1-1.jsonl", lines)
    with StoreFailingOnce(tmp_path / "store", grams=index_grams) as failing, pytest.raises(StoreError):
        Ingester(tmp_path / "spool", analyzer, failing, batch=500).run()
    assert path.exists() and (tmp_path / "spool" / "s-1-1.jsonl.stored").read_text() == "501"
    assert spool_depth(tmp_path / "spool") == (1, 700)
    assert analyzer.analysed == 1000  # the second batch was analysed, then not stored

    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        report = Ingester(tmp_path / "spool", analyzer, store).run()
        assert report.posts == 700 and analyzer.analysed == 1700  # the first 500 were not analysed again
        assert store.count(SearchQuery()) == 1200
    assert not path.exists() and not (tmp_path / "spool" / "s-1-1.jsonl.stored").exists()
    rejected = (tmp_path / "spool" / "rejected" / "s-1-1.rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["line"] for r in rejected] == [4]


def test_a_store_that_is_down_costs_no_analysis(tmp_path: Path, analyzer: CountingAnalyzer) -> None:
    spool(tmp_path / "spool", "s-1-1.jsonl", [json.dumps(item(n), ensure_ascii=False) for n in range(3)])
    down = settings.Store(backend="elasticsearch", url=[f"http://127.0.0.1:{free_port()}"], request_timeout=1)
    with ElasticStore(down, grams=index_grams) as store, pytest.raises(StoreError, match="cannot be reached"):
        Ingester(tmp_path / "spool", analyzer, store).run()
    assert analyzer.analysed == 0 and spool_depth(tmp_path / "spool") == (1, 3)


def test_a_post_the_cluster_refuses_is_set_aside_with_its_id_and_the_file_is_done(
        tmp_path: Path, analyzer: CountingAnalyzer, cluster: Cluster, es_section: settings.Store) -> None:
    lines = [json.dumps(item(n), ensure_ascii=False) for n in range(4)]
    lines[2] = json.dumps(item(2, author_followers=10**20), ensure_ascii=False)  # more than a long holds
    path = spool(tmp_path / "spool", "s-1-1.jsonl", lines)
    with ElasticStore(es_section, grams=index_grams, client=cluster.connect(es_section)) as store:
        report = Ingester(tmp_path / "spool", analyzer, store).run()
        assert (report.posts, len(report.inserted), report.rejected) == (3, 3, 1)
        assert store.count(SearchQuery()) == 3
    assert not path.exists()
    [record] = [json.loads(r) for r in (tmp_path / "spool" / "rejected" / "s-1-1.rejected.jsonl").read_text(
        encoding="utf-8").splitlines()]
    assert record["line"] == 3 and record["raw"] == lines[2]
    assert record["reason"].startswith("post news:") and "refused by the store" in record["reason"]
