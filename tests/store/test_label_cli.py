"""`yuqing label`: an analyst corrects a post from the command line, on either store backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import settings
from analysis.grams import index_grams
from store.elastic import ElasticStore
from store.elastic import client as es_client
from store.embedded import EmbeddedStore
from tests.store.clusters import Cluster
from tests.store.conftest import make_post
from tests.store.test_elastic_cli import _osmem_transport, cli  # noqa: F401 (an autouse fixture)
from tests.store.test_elastic_cli import write_config as store_config
from yuqing.lock import StoreLock

POSTS = [make_post(1, "北辰 燃料 乙醇 厂区 恶臭 投诉", sentiment="negative"),
         make_post(2, "北辰 燃料 乙醇 化工 园区 排放 数据 公开", hours=1),
         make_post(3, "乙醇 汽油 价格 上涨", hours=2)]


def write_config(folder: Path, section: settings.Store | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = store_config(folder, section)
    path.write_text(path.read_text("utf-8") + '[[schemes]]\nname = "co"\nkeywords = ["北辰"]\n', "utf-8")
    return path


@pytest.fixture
def embedded(tmp_path: Path) -> Path:
    config = write_config(tmp_path, None)
    with EmbeddedStore(tmp_path / "var", grams=index_grams) as store:
        store.upsert(POSTS)
    return config


def negative(config: Path) -> list[str]:
    found = cli(config, "search", "--sentiment", "negative", "--format", "json")
    assert found.exit_code == 0, found.output
    return sorted(p["id"] for p in json.loads(found.output)["posts"])


def test_a_correction_shows_in_search_at_once(embedded: Path) -> None:
    assert negative(embedded) == ["news:1"]
    done = cli(embedded, "label", "news:2", "--sentiment", "negative", "--by", "李明", "--note", "排放数据造假")
    assert done.exit_code == 0, done.output
    assert done.output == "news:2 已更正（李明）：情感 负面（模型判断 中性）\n"
    assert negative(embedded) == ["news:1", "news:2"]
    off = cli(embedded, "label", "news:1", "--relevant", "no", "--by", "王芳")
    assert off.output == "news:1 已更正（王芳）：情感 负面（模型判断 负面）；与本企业无关，已移出监测方案 co\n"
    in_scheme = cli(embedded, "search", "--scheme", "co", "--format", "json")
    assert in_scheme.exit_code == 0, in_scheme.output
    assert sorted(p["id"] for p in json.loads(in_scheme.output)["posts"]) == ["news:2", "news:3"]
    with EmbeddedStore(embedded.parent / "var", readonly=True) as store:
        kept = store.get("news:2")
    assert kept is not None and kept.correction is not None
    assert (kept.correction.by, kept.correction.note, kept.correction.model.label) == (  # type: ignore[union-attr]
        "李明", "排放数据造假", "neutral")


@pytest.mark.parametrize("args, message", [
    (["news:404", "--sentiment", "negative"], "yuqing: no post 'news:404' in the store"),
    (["news:1", "--sentiment", "angry"], "yuqing: --sentiment must be one of negative, neutral, positive, not 'angry'"),
    (["news:1", "--relevant", "maybe"], "yuqing: --relevant must be yes or no, not 'maybe'"),
    (["news:1"], "yuqing: say what to correct: --sentiment negative|neutral|positive and/or --relevant yes|no"),
    (["news:1", "--sentiment", "neutral", "--by", ""], "yuqing: --by: String should have at least 1 character"),
])
def test_a_bad_id_or_value_is_one_line_and_exit_2(embedded: Path, args: list[str], message: str) -> None:
    done = cli(embedded, "label", *args)
    assert done.exit_code == 2 and done.output.splitlines()[0].startswith(message), done.output
    assert len(done.output.splitlines()) == 1
    assert negative(embedded) == ["news:1"]  # nothing changed


def test_while_the_service_holds_an_embedded_store_it_points_to_the_dashboard(embedded: Path) -> None:
    with StoreLock(embedded.parent / "var"):
        done = cli(embedded, "label", "news:2", "--sentiment", "negative")
    assert done.exit_code == 1
    assert "in use by another yuqing process" in done.output and "/posts/news:2" in done.output
    assert len(done.output.splitlines()) == 1
    assert negative(embedded) == ["news:1"]


def test_on_a_cluster(tmp_path: Path, cluster: Cluster, es_section: settings.Store) -> None:
    with ElasticStore(es_section, grams=index_grams, client=es_client.connect(es_section)) as store:
        store.upsert(POSTS)
    config = write_config(tmp_path, es_section)
    done = cli(config, "label", "news:3", "--sentiment", "positive", "--relevant", "no", "--by", "李明")
    assert done.exit_code == 0, done.output
    assert cli(config, "label", "news:9", "--sentiment", "positive").exit_code == 2
    with ElasticStore(es_section, client=es_client.connect(es_section)) as store:
        got = store.get("news:3")
        assert got is not None and got.sentiment is not None and got.correction is not None
        assert (got.sentiment.label, got.schemes, got.correction.by) == ("positive", [], "李明")


def test_migration_carries_corrections_into_the_cluster(tmp_path: Path, cluster: Cluster,
                                                         es_section: settings.Store) -> None:
    embedded = write_config(tmp_path / "old", None)
    with EmbeddedStore(tmp_path / "old" / "var", grams=index_grams) as store:
        store.upsert(POSTS)
    assert cli(embedded, "label", "news:3", "--sentiment", "negative").exit_code == 0
    config = write_config(tmp_path, es_section)
    done = cli(config, "es", "migrate", "--from", str(tmp_path / "old" / "var"))
    assert done.exit_code == 0, done.output
    assert negative(config) == ["news:1", "news:3"]
    with ElasticStore(es_section, client=es_client.connect(es_section)) as store:
        assert [p.id for p in store.corrections()] == ["news:3"]
