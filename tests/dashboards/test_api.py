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
    assert data["counts"] == {"total": 5, "in_range": 4, "negative": 2}
    assert data["interval"] == "hour" and len(data["volume"]) in (24, 25)
    assert sum(b["negative"] for b in data["volume"]) == 2
    assert data["keywords"][0] == ["北辰燃料乙醇", 4]
    assert [p["id"] for p in data["negative_posts"]] == ["news:1", "news:4"]
    assert data["alerts"][0]["severity"] == "high"
    week = client(store).get("/api/summary?range=7d").json()
    assert week["interval"] == "day" and week["counts"]["in_range"] == 5


def test_search_and_bad_parameters(store: EmbeddedStore) -> None:
    c = client(store)
    found = c.get("/api/search", params={"q": "恶臭"}).json()
    assert found["total"] == 1 and found["posts"][0]["id"] == "news:1"
    assert c.get("/api/search", params={"q": "", "sentiment": "positive"}).json()["posts"][0]["id"] == "news:2"
    assert c.get("/api/summary?range=1y").status_code == 400
    assert c.get("/api/search?limit=many").status_code == 400
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
