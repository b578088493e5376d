from starlette.testclient import TestClient

from analysis.grams import index_grams
from dashboards.web.app import create_app
from models import OutletNames
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
    # In Chinese for the people who read the dashboard (the command line says it in English).
    for q, position, said in [("北辰 OR", 3, "OR 后面缺少要搜索的内容"),
                              ("(恶臭", 0, "“(”没有闭合"),
                              ("colour:red", 0, "没有“colour”这个字段"),
                              ("source:weibo", 7, "'weibo' 不在可选值之中（baihua-news、baihua-forum）")]:
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
    named = create_app(store, alerts, parse, allowed_hosts=HOSTS, source_health=source_health,
                       outlets=OutletNames({"baihua-news": "白桦新闻网"}))
    assert [s["name"] for s in local(named).get("/api/sources").json()["sources"]] == ["白桦新闻网", "weibo"]
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


def test_the_overview_search_counts_its_range_and_hands_all_of_it_to_the_search_page(tmp_path) -> None:  # noqa: ANN001
    from urllib.parse import parse_qs, urlsplit

    from parsel import Selector

    from tests.dashboards.conftest import _post

    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        # 70 in the last 24 hours (more than the overview lists), 5 more in the week.
        store.upsert([_post(n, f"北辰燃料乙醇 第{n}条", "negative", 0.2 * n + 0.1) for n in range(70)] +
                     [_post(n, f"北辰燃料乙醇 第{n}条", "negative", 48 + n) for n in range(70, 75)])
        c = client(store)
        day = c.get("/api/search", params={"q": "北辰", "range": "24h", "limit": "50"}).json()
        assert day["total"] == 70 and len(day["posts"]) == 50
        assert c.get("/api/search", params={"q": "北辰", "range": "7d"}).json()["total"] == 75
        assert c.get("/api/search", params={"q": "北辰", "range": "1y"}).status_code == 400
        address = urlsplit(day["search_url"])
        asked = parse_qs(address.query)
        assert address.path == "/search" and asked["q"] == ["北辰"] and asked["range"] == ["24h"] and "at" in asked
        full = Selector(c.get(day["search_url"]).text)
        assert full.css("#results-total::text").get() == "共 70 条"  # the same posts, paged, with exports
        assert full.css("#export-csv") and full.css("#pager a")
