from starlette.testclient import TestClient

from analysis.grams import index_grams
from dashboards.web.app import create_app
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, alerts, parse, source_health


def client(store: EmbeddedStore) -> TestClient:
    return local(create_app(store, alerts, parse, allowed_hosts=HOSTS, source_health=source_health))


def local(app) -> TestClient:  # noqa: ANN001
    return TestClient(app, base_url="http://127.0.0.1")


def test_summary(store: EmbeddedStore) -> None:
    data = client(store).get("/api/summary?range=24h").json()
    assert data["counts"] == {"total": 5, "in_range": 4, "negative": 2, "alerts": 1}
    assert data["interval"] == "10min" and len(data["volume"]) in (144, 145)
    assert sum(b["negative"] for b in data["volume"]) == 2
    assert data["keywords"][0] == {"word": "北辰燃料乙醇", "count": 4, "baseline": 0.1, "rising": True}  # 1 in 7 days before
    assert [p["id"] for p in data["negative_posts"]] == ["news:1", "news:4"]
    assert data["alerts"][0]["severity"] == "high"
    week = client(store).get("/api/summary?range=7d").json()
    assert week["interval"] == "hour" and week["counts"]["in_range"] == 5


def test_search_and_bad_parameters(store: EmbeddedStore) -> None:
    c = client(store)
    found = c.get("/api/search", params={"q": "恶臭"}).json()
    assert found["total"] == 1 and found["posts"][0]["id"] == "news:1"
    assert c.get("/api/search", params={"q": "", "sentiment": "positive"}).json()["posts"][0]["id"] == "news:2"
    assert c.get("/api/summary?range=1y").status_code == 400
    assert c.get("/api/search?limit=many").status_code == 400


def test_search_finds_parts_of_words_and_fields(store: EmbeddedStore) -> None:
    c = client(store)

    def found(q: str) -> list[str]:
        response = c.get("/api/search", params={"q": q})
        assert response.status_code == 200, response.text
        return sorted(p["id"] for p in response.json()["posts"])

    assert found("北辰") == ["news:1", "news:2", "news:4"]  # inside 北辰燃料乙醇 and 北辰乙醇
    assert found("臭") == ["news:1"]
    assert found("(恶臭 OR 好评) -source:baihua-forum") == ["news:2"]
    assert found("title:风电 OR author:记者") == ["news:1", "news:2", "news:3", "news:4", "news:5"]


def test_a_query_that_cannot_be_read_is_a_400_with_what_is_wrong_and_where(store: EmbeddedStore) -> None:
    c = client(store)
    for q, position, said in [("北辰 OR", 3, "OR needs something to search after it"),
                              ("(恶臭", 0, "this '(' is never closed"),
                              ("colour:red", 0, "unknown field 'colour'"),
                              ("source:weibo", 7, "'weibo' is not one of: baihua-news, baihua-forum")]:
        response = c.get("/api/search", params={"q": q})
        assert response.status_code == 400
        assert response.json()["position"] == position and said in response.json()["error"]
    assert c.get("/healthz").json() == {"ok": True}


def test_page_and_assets_are_local(store: EmbeddedStore) -> None:
    c = client(store)
    page = c.get("/").text
    assert "/static/app.js" in page and "http://" not in page and "https://" not in page
    for asset in ("/static/app.js", "/static/app.css", "/static/favicon.svg"):
        response = c.get(asset)
        assert response.status_code == 200 and "https://" not in response.text


def test_empty_store(tmp_path) -> None:  # noqa: ANN001
    with EmbeddedStore(tmp_path / "empty", grams=index_grams) as empty:
        data = local(create_app(empty, lambda n: [], parse, allowed_hosts=HOSTS)).get("/api/summary").json()
        assert data["counts"]["total"] == 0 and data["negative_posts"] == []


def test_sources(store: EmbeddedStore) -> None:
    data = client(store).get("/api/sources").json()
    assert [(s["source"], s["status"]) for s in data["sources"]] == [("baihua-news", "ok"), ("weibo", "blocked")]
    assert local(create_app(store, alerts, parse, allowed_hosts=HOSTS)).get("/api/sources").json()["sources"] == []


def test_a_store_that_is_away_answers_503_with_the_reason(store: EmbeddedStore) -> None:
    from store.base import StoreError

    class Away(EmbeddedStore):
        def search(self, query):  # noqa: ANN001, ANN201 - the real store, its cluster gone as a remote one goes
            raise StoreError("the Elasticsearch cluster at http://es:9200 cannot be reached")

    store.__class__ = Away
    answer = client(store).get("/api/summary?range=24h")
    assert answer.status_code == 503
    assert answer.json() == {"error": "存储暂不可用：the Elasticsearch cluster at http://es:9200 cannot be reached"}
