"""What the Elasticsearch backend does beyond the contract: where posts live, refusals, retries, rebuilds.

Against osmem-server; the tests marked with both clusters also run on a real one when YUQING_ES_URL is set.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from analysis.grams import index_grams
import settings
from store.base import AlertCopy, EventQuery, SearchQuery, StoreError
from store.elastic import ElasticStore
from store.elastic import backend as es_backend
from store.elastic.backend import alert_document
from store.elastic.layout import Layout, setup
from tests.store.clusters import BusyProxy, Cluster, PlainJsonNode, free_port
from tests.store.conftest import BASE, make_event, make_post, parse
from models import Author, Metrics

BOTH = pytest.mark.parametrize("cluster", ["osmem", "elasticsearch"], indirect=True)
MAPPINGS = {name: json.loads((Path(__file__).resolve().parents[2] / "store" / "elastic" / f"{name}.mappings.json")
                             .read_text(encoding="utf-8")) for name in ("alerts",)}


@pytest.fixture
def store(cluster: Cluster, es_section: settings.Store) -> ElasticStore:
    with ElasticStore(es_section, grams=index_grams, client=cluster.connect(es_section)) as opened:
        yield opened


def indices(cluster: Cluster, section: settings.Store) -> dict[str, int]:
    """Our indices under the alias, with how many posts each holds."""
    with cluster.client() as client:
        client.indices.refresh(index=f"{section.index_prefix}posts-*")
        rows = client.cat.indices(index=f"{section.index_prefix}posts-*", format="json", h="index,docs.count")
    return {row["index"]: int(row["docs.count"]) for row in rows}


@BOTH
def test_posts_go_to_the_index_of_their_month_and_an_update_stays_where_the_post_lives(
        cluster: Cluster, es_section: settings.Store, store: ElasticStore) -> None:
    prefix = es_section.index_prefix
    march, april = make_post(1, "北辰 乙醇"), make_post(2, "北辰 乙醇", hours=24 * 30)
    first = store.upsert([march, april])
    assert sorted(first.inserted) == ["news:1", "news:2"]
    assert indices(cluster, es_section) == {f"{prefix}posts-2024.03": 1, f"{prefix}posts-2024.04": 1}
    # Crawled again, the post now says it was published in May: it is updated in March's index, not copied to May's.
    moved = march.model_copy(update={"published_at": BASE + timedelta(days=60), "title": "改过的标题"})
    again = store.upsert([moved])
    assert again.updated == ["news:1"] and again.inserted == []
    assert indices(cluster, es_section) == {f"{prefix}posts-2024.03": 1, f"{prefix}posts-2024.04": 1}
    assert store.get("news:1").title == "改过的标题"  # type: ignore[union-attr]
    assert [p.id for p in store.search(SearchQuery(since=BASE + timedelta(days=59))).posts] == ["news:1"]
    assert store.count(SearchQuery()) == 2


def test_a_month_is_taken_in_shanghai_time(cluster: Cluster, es_section: settings.Store, store: ElasticStore) -> None:
    # 2024-04-01 02:00 in Shanghai is still March 31 in UTC: the post belongs to April.
    store.upsert([make_post(1, "a", hours=(24 * 19) + 17)])  # 2024-04-01 02:00 +08:00
    assert list(indices(cluster, es_section)) == [f"{es_section.index_prefix}posts-2024.04"]


@BOTH
def test_a_post_the_mapping_refuses_is_reported_by_id_and_the_rest_is_stored(store: ElasticStore) -> None:
    posts = [make_post(n, "北辰 帖子") for n in range(5)]
    posts[2] = posts[2].model_copy(update={"author": Author(name="x", followers=10**20)})  # beyond a long
    too_long = make_post(9, "北辰").model_copy(update={"id": "news:" + "长" * 200})  # 605 bytes
    result = store.upsert([*posts, too_long])
    assert sorted(result.inserted) == ["news:0", "news:1", "news:3", "news:4"]
    assert set(result.failed) == {"news:2", too_long.id}
    assert "followers" in result.failed["news:2"] and "512 bytes" in result.failed[too_long.id]
    assert store.count(SearchQuery()) == 4 and store.get("news:2") is None


def test_a_busy_cluster_gets_each_refused_item_again_after_a_pause(
        cluster: Cluster, es_section: settings.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(es_backend, "_BACKOFF", 0.2)
    monkeypatch.setattr(es_backend, "_RETRIES", 2)
    proxy = BusyProxy(cluster.url)
    section = es_section.model_copy(update={"url": [proxy.url]})
    try:
        with ElasticStore(section, grams=index_grams, client=cluster.connect(section)) as store:
            proxy.busy = {"news:1": 2, "news:3": 1}  # turned away twice, once
            started = time.monotonic()
            result = store.upsert(make_post(n, "北辰") for n in range(5))
            assert sorted(result.inserted) == [f"news:{n}" for n in range(5)] and not result.failed
            assert proxy.refused == 3 and time.monotonic() - started >= 0.2 + 0.4  # two pauses, the second longer
            assert store.count(SearchQuery()) == 5

            proxy.busy = {"news:7": 99}  # busy for longer than the retries last: it waits for a later run
            with pytest.raises(StoreError, match=r"refused 1 of 3 posts for now \(post news:7: 429"):
                store.upsert(make_post(n, "北辰") for n in range(6, 9))
            assert store.count(SearchQuery()) == 7 and store.get("news:7") is None
    finally:
        proxy.close()


def test_writing_before_setup_says_to_run_it_and_makes_no_index(cluster: Cluster) -> None:
    section = cluster.section()
    with ElasticStore(section, grams=index_grams, client=cluster.connect(section)) as store:
        with pytest.raises(StoreError, match="no index template .*run `yuqing es setup` first"):
            store.upsert([make_post(1, "北辰")])
        assert store.search(SearchQuery()).total == 0  # reading an empty cluster is no error
    assert indices(cluster, section) == {}


def test_an_unreachable_cluster_is_one_clear_error_and_opening_needs_no_cluster() -> None:
    section = settings.Store(backend="elasticsearch", url=[f"http://user:secret@127.0.0.1:{free_port()}"],
                             request_timeout=2)
    with ElasticStore(section, grams=index_grams) as store:  # the service starts while the cluster is down
        for attempt in (lambda: store.upsert([make_post(1, "x")]), lambda: store.search(SearchQuery()), store.check):
            with pytest.raises(StoreError, match=r"cluster at http://127\.0\.0\.1:\d+ cannot be reached") as caught:
                attempt()
            assert "secret" not in str(caught.value)
        assert not store.health().ok


def test_pages_past_the_result_window_are_walked(cluster: Cluster, es_section: settings.Store, store: ElasticStore,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store.upsert(make_post(n, "北辰 帖子", hours=n) for n in range(30))
    # The cluster refuses any page reaching past 7 posts, as it refuses past 10,000 by default.
    with cluster.client() as client:
        client.indices.put_settings(index=f"{es_section.index_prefix}posts-*", settings={"index.max_result_window": 7})
    monkeypatch.setattr(es_backend, "_WINDOW", 7)
    for sort in ("time", "relevance"):
        everything = [p.id for p in store.search(SearchQuery(limit=5, sort=sort)).posts]  # type: ignore[arg-type]
        deep = store.search(SearchQuery(limit=12, offset=9, sort=sort))  # type: ignore[arg-type]
        assert deep.total == 30 and len(deep.posts) == 12
        if sort == "time":
            assert everything == [f"news:{n}" for n in (29, 28, 27, 26, 25)]
            assert [p.id for p in deep.posts] == [f"news:{n}" for n in range(20, 8, -1)]
    assert [p.id for p in store.search(SearchQuery(limit=100, offset=25)).posts] == [f"news:{n}" for n in range(4, -1, -1)]


def test_keyword_counts_stay_exact_when_shards_cut_their_lists(store: ElasticStore,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Five months, five indices (shards). Each month's own most frequent keyword is not the overall one.
    posts, n = [], 0
    for month in range(5):
        for keyword, times in ((f"本月{month}", 4), ("处处", 3), (f"零星{month}", 1)):
            for _ in range(times):
                n += 1
                posts.append(make_post(n, "帖子", hours=24 * 31 * month, keywords=(keyword,)))
    store.upsert(posts)
    # The cluster itself, asked with lists cut at 1, does cut them.
    cut = store.client.search(index=store.layout.posts, size=0, aggs={"t": {"terms": {
        "field": "keywords", "size": 1, "shard_size": 1}}})["aggregations"]["t"]["buckets"]
    assert cut[0] != {"key": "处处", "doc_count": 15}
    monkeypatch.setattr(es_backend, "_SHARD_SIZE", 1)  # start cut, and grow
    assert store.top_keywords(SearchQuery(), 2) == [("处处", 15), ("本月0", 4)]
    monkeypatch.setattr(es_backend, "_MAX_BUCKETS", 3)  # the cluster's bucket limit reached: composite pages
    monkeypatch.setattr(es_backend, "_COMPOSITE_PAGE", 4)
    assert store.top_keywords(SearchQuery(), 3) == [("处处", 15), ("本月0", 4), ("本月1", 4)]
    assert dict(store.top_keywords(SearchQuery(), 100)) == {"处处": 15, **{f"本月{m}": 4 for m in range(5)},
                                                            **{f"零星{m}": 1 for m in range(5)}}


def test_reindex_rebuilds_an_index_made_from_an_older_template(cluster: Cluster, es_section: settings.Store,
                                                              store: ElasticStore) -> None:
    """A monthly index made by an older template (here: a post's grams kept as one term) is rebuilt from its own documents
    into a new index from the current template; the alias moves to it and the old one is gone."""
    prefix = es_section.index_prefix
    layout = Layout(prefix)
    old = layout.posts_template(lifecycle=False)
    old["template"]["mappings"]["properties"]["grams"] = {"type": "text", "analyzer": "keyword"}
    with cluster.client() as client:
        client.indices.put_index_template(name=layout.posts, **old)
    store.upsert([make_post(1, "NGO 举报 北辰", hours=0), make_post(2, "北辰 开放日", hours=24 * 30)])
    assert [p.id for p in store.search(SearchQuery(text=parse("ngo"))).posts] == []
    with cluster.connect(es_section) as client:
        steps = setup(client, es_section)
    assert steps[1].outcome == "updated" and "2 existing monthly indices keep their old mapping" in steps[1].detail
    calls: list[tuple[int, int]] = []
    assert store.reindex(lambda done, total: calls.append((done, total))) == 2
    assert calls == [(1, 2), (2, 2)]
    assert indices(cluster, es_section) == {f"{prefix}posts-2024.03-2": 1, f"{prefix}posts-2024.04-2": 1}
    assert [p.id for p in store.search(SearchQuery(text=parse("ngo"))).posts] == ["news:1"]
    # What comes next for a rebuilt month goes to its new index.
    store.upsert([make_post(3, "北辰", hours=5)])
    assert indices(cluster, es_section)[f"{prefix}posts-2024.03-2"] == 2
    with cluster.connect(es_section) as client:
        assert [s.outcome for s in setup(client, es_section)][1:] == ["unchanged"] * 3


@BOTH
def test_an_alert_is_one_document_by_its_key_and_an_older_copy_never_wins(store: ElasticStore, cluster: Cluster,
                                                                          es_section: settings.Store,
                                                                          tmp_path: Path) -> None:
    from alerts.state import AlertState, NewAlert

    state = AlertState.for_data_dir(tmp_path)
    try:
        alert_id = state.open_alert(NewAlert("event:co:evt:1", "污染", "co", "high", "北辰 河水发黑", "命中 发黑",
                                             "http://127.0.0.1/p/1", {"terms": ["发黑"], "score": 0.1}, "evt:1",
                                             [{"rule": "污染", "title": "污染", "reason": "命中 发黑"}], ["news:1"]),
                                    None, BASE)
        [opened] = state.unsynced(10)
        state.act(alert_id, "ack", "值班员", BASE + timedelta(minutes=5))  # type: ignore[arg-type]
        [acked] = state.unsynced(10)
    finally:
        state.close()
    assert set(alert_document(acked)) == set(MAPPINGS["alerts"]["properties"])  # each field mapped, each mapped field written
    assert store.upsert_alerts([opened]) == {}
    assert store.upsert_alerts([acked, acked]) == {}
    assert store.upsert_alerts([opened]) == {}  # late (a retry the cluster carried out after the newer one): left out
    prefix = es_section.index_prefix
    with cluster.client() as client:
        [hit] = client.search(index=f"{prefix}alerts", query={"match": {"title": "发黑"}})["hits"]["hits"]
        assert (hit["_id"], hit["_index"]) == ("event:co:evt:1", f"{prefix}alerts-2024.03")
        assert hit["_source"]["state"] == "acknowledged" and hit["_source"]["acknowledged_by"] == "值班员"
        assert hit["_source"]["created_at"] == BASE.isoformat() and hit["_source"]["id"] == alert_id
        with pytest.raises(Exception, match="strict"):  # the mapping is strict: no field slips in unseen
            client.index(index=hit["_index"], id="x", document={**hit["_source"], "extra": 1})


def test_alerts_are_not_written_to_a_cluster_without_the_alerts_template(cluster: Cluster) -> None:
    """An index made by the write itself would guess its fields' types: Kibana's panels could not count them."""
    section = cluster.section()
    copy = AlertCopy(1, "post:co:news:1", 1, {"created_at": BASE, "title": "北辰"})
    try:
        with ElasticStore(section, grams=index_grams, client=cluster.connect(section)) as store, \
                pytest.raises(StoreError, match=f"no index template {section.index_prefix}alerts: run `yuqing es setup`"):
            store.upsert_alerts([copy])
        with cluster.client() as client:
            assert client.options(ignore_status=404).indices.get(index=f"{section.index_prefix}alerts-*").body == {}
    finally:
        cluster.drop(section.index_prefix)


def test_setup_on_a_cluster_without_ilm_says_retention_is_not_applied(cluster: Cluster) -> None:
    section = cluster.section(retention="365d")
    try:
        with cluster.connect(section) as client:
            if client.info()["version"].get("distribution") != "opensearch":
                pytest.skip("this cluster has ILM")
            steps = setup(client, section)
            assert steps[0].outcome == "skipped" and "no index lifecycle management" in steps[0].detail
            assert "retention (365d) is not applied" in steps[0].detail
            template = client.indices.get_index_template(name=f"{section.index_prefix}posts")
            assert "lifecycle" not in str(template)  # OpenSearch would refuse every index made from it
    finally:
        cluster.drop(section.index_prefix)


def test_a_plain_client_is_refused_by_osmem_and_the_test_transport_is_what_differs(osmem: Cluster) -> None:
    """Why PlainJsonNode exists: with the client's own media types, osmem refuses a request with a body."""
    with Elasticsearch(osmem.url) as plain, pytest.raises(Exception, match="406|not supported"):
        plain.indices.create(index="t-plain-client", mappings={"properties": {"a": {"type": "keyword"}}})
    with Elasticsearch(osmem.url, node_class=PlainJsonNode) as adapted:
        assert adapted.indices.create(index="t-plain-client", mappings={"properties": {"a": {"type": "keyword"}}})["acknowledged"]
        adapted.indices.delete(index="t-plain-client")


@BOTH
def test_an_older_crawl_of_a_post_never_replaces_a_newer_one(store: ElasticStore) -> None:
    """A write the cluster carries out late (sent before it froze, retried meanwhile), or an older copy from
    `yuqing es migrate`, must not undo a later crawl: a post's version is the time it was crawled."""
    newer = make_post(1, "北辰").model_copy(update={"metrics": Metrics(comments=7)})
    older = newer.model_copy(update={"metrics": Metrics(comments=1), "crawled_at": newer.crawled_at - timedelta(hours=1)})
    store.upsert([newer])
    result = store.upsert([older])
    assert result.updated == ["news:1"] and not result.failed
    assert store.get("news:1").metrics.comments == 7  # type: ignore[union-attr]
    store.upsert([newer.model_copy(update={"metrics": Metrics(comments=9)})])  # the same crawl, analysed again
    assert store.get("news:1").metrics.comments == 9  # type: ignore[union-attr]


@BOTH
def test_setup_a_second_time_changes_nothing(cluster: Cluster) -> None:
    """With a retention: on Elasticsearch the ILM policy is made (then left unchanged), on osmem it is skipped."""
    section = cluster.section(retention="730d")
    try:
        with cluster.connect(section) as client:
            first = setup(client, section)
            assert [s.outcome for s in first[1:]] == ["created"] * 3
            assert first[0].outcome in ("created", "skipped")
            second = setup(client, section)
            assert [s.outcome for s in second] == ["unchanged" if s.outcome == "created" else s.outcome for s in first]
            assert not any(s.changed for s in second)
    finally:
        cluster.drop(section.index_prefix)


@BOTH
@pytest.mark.parametrize(("field", "value"), [("official", True), ("outlet", "白桦新闻网")])
def test_setup_adds_new_fields_to_the_monthly_indices_of_an_older_version(cluster: Cluster, es_section: settings.Store,
                                                                         store: ElasticStore, field: str,
                                                                         value: object) -> None:
    """A month's index made before posts had `field`: its strict mapping would refuse every new post of the
    month until `yuqing reindex`. Setup adds the new field to it in place."""
    prefix = es_section.index_prefix
    layout = Layout(prefix)
    old = layout.posts_template(lifecycle=False)
    del old["template"]["mappings"]["properties"][field]
    with cluster.client() as client:
        client.indices.put_index_template(name=layout.posts, **old)
        client.indices.create(index=layout.index("2024.03"))  # made from the older template
    refused = store.upsert([make_post(1, "北辰 开放日").model_copy(update={field: value})])
    assert "news:1" in refused.failed and field in refused.failed["news:1"]
    with cluster.connect(es_section) as client:
        steps = setup(client, es_section)
    assert steps[1].outcome == "updated" and "new fields added to 1 existing monthly indices" in steps[1].detail
    assert "keep their old mapping" not in steps[1].detail
    stored = store.upsert([make_post(1, "北辰 开放日").model_copy(update={field: value})])
    assert stored.inserted == ["news:1"] and getattr(store.get("news:1"), field) == value
    assert indices(cluster, es_section) == {f"{prefix}posts-2024.03": 1}


@BOTH
def test_the_events_index_is_made_by_setup_and_strict(cluster: Cluster, es_section: settings.Store,
                                                      store: ElasticStore) -> None:
    event = make_event(1, quiet=timedelta(hours=1))
    store.upsert_events([event])
    with cluster.client() as client:
        mapping = client.indices.get_mapping(index=f"{es_section.index_prefix}events")
        assert mapping[f"{es_section.index_prefix}events"]["mappings"]["dynamic"] == "strict"
        with pytest.raises(Exception, match="strict"):  # no field slips in unseen
            client.index(index=f"{es_section.index_prefix}events", id="x", document={"id": "x", "extra": 1})
    older = event.model_copy(update={"posts": 1, "updated_at": event.updated_at - timedelta(minutes=1)})
    store.upsert_events([older])  # a late write of an older version
    assert store.get_event(event.id) == event


def test_events_before_setup_say_to_run_it(cluster: Cluster) -> None:
    section = cluster.section()
    try:
        with ElasticStore(section, grams=index_grams, client=cluster.connect(section)) as store:
            assert store.events(EventQuery()) == [] and store.get_event("evt:1") is None
            with pytest.raises(StoreError, match="no index .*events: run `yuqing es setup` first"):
                store.upsert_events([make_event(1, quiet=timedelta(hours=1))])
    finally:
        cluster.drop(section.index_prefix)
