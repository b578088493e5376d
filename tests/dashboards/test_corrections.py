"""An analyst corrects a post from its page; the overview's counts, the search page and the post page read the
corrected post at once. Over a real store, with sign-in as the service wires it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from parsel import Selector
from starlette.testclient import TestClient

from dashboards.web.accounts import Accounts
from dashboards.web.app import create_app
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, Desk, alerts, parse
from tests.dashboards.test_auth import ROLES, Site, _page_tokens, accounts, build  # noqa: F401 (a fixture)


def open_board(store: EmbeddedStore) -> TestClient:
    return TestClient(create_app(store, alerts, parse, allowed_hosts=HOSTS), base_url="http://127.0.0.1",
                      follow_redirects=False)


def correct(client: TestClient, post_id: str, **fields: str) -> Any:
    page = client.get(f"/posts/{post_id}").text
    return client.post(f"/corrections/{post_id}", data={**_page_tokens(page), **fields})


def negative(client: TestClient) -> tuple[int, list[str]]:
    summary = client.get("/api/summary", params={"range": "7d"}).json()
    return summary["counts"]["negative"], sorted(p["id"] for p in summary["negative_posts"])


def test_a_correction_shows_on_every_page_at_once(store: EmbeddedStore) -> None:
    client = open_board(store)
    assert negative(client) == (2, ["news:1", "news:4"])
    done = correct(client, "news:3", sentiment="negative", by="李明", note="风电项目占用耕地")
    assert done.status_code == 303 and done.headers["location"] == "/posts/news:3?corrected=1"
    page = Selector(client.get("/posts/news:3").text)
    assert page.css("#sentiment::text").get() == "负面"
    said = page.css("#corrected-by::text").get()
    assert "李明" in said and "情感为负面（模型判断中性）" in said and "风电项目占用耕地" in said
    assert negative(client) == (3, ["news:1", "news:3", "news:4"])
    found = Selector(client.get("/search", params={"sentiment": "negative"}).text)
    assert "news:3" in found.css("#results-list li::attr(data-post-id)").getall()


def test_a_post_marked_not_relevant_leaves_its_scheme(store: EmbeddedStore) -> None:
    client = open_board(store)
    assert correct(client, "news:1", relevant="no", by="王芳").status_code == 303
    page = Selector(client.get("/posts/news:1").text)
    assert "与本企业无关，已移出监测方案 co" in page.css("#corrected-by::text").get()
    assert page.css("#schemes li.empty::text").get() == "未命中监测方案"
    assert page.css("#sentiment::text").get() == "负面"  # the sentiment was not corrected


def test_forms_that_cannot_be_taken_change_nothing(store: EmbeddedStore) -> None:
    client = open_board(store)
    assert correct(client, "news:3", sentiment="negative").status_code == 400  # no name
    assert correct(client, "news:3", by="李明").status_code == 400  # nothing corrected
    assert correct(client, "news:3", sentiment="angry", by="李明").status_code == 400
    assert correct(client, "news:3", relevant="maybe", by="李明").status_code == 400
    assert correct(client, "news:3", sentiment="negative", by="李明", note="长" * 1001).status_code == 400
    forged = client.post("/corrections/news:3", data={"csrf": "1.forged", "sentiment": "negative", "by": "李明"})
    assert forged.status_code == 403
    missing = client.post("/corrections/news:404", data={**_page_tokens(client.get("/posts/news:3").text),
                                                         "sentiment": "negative", "by": "李明"})
    assert missing.status_code == 404
    assert store.get("news:3").correction is None  # type: ignore[union-attr]
    assert negative(client)[0] == 2


def test_signed_in_an_analyst_corrects_under_the_account_and_a_viewer_cannot(desk: Desk, accounts: Accounts) -> None:
    for role in ROLES:
        accounts.add(role, role, "correct horse battery", by="test")
    site = Site(desk, accounts, build(desk, accounts))
    viewer = site.signed_in("viewer")
    page = viewer.get("/posts/news:9")
    assert page.status_code == 200 and 'id="correct-form"' not in page.text
    tokens = _page_tokens(page.text)
    refused = viewer.post("/corrections/news:9", data={**tokens, "sentiment": "positive"})
    assert refused.status_code == 403
    analyst = site.signed_in("analyst")
    page = analyst.get("/posts/news:9").text
    assert 'id="correct-form"' in page and 'id="correct-by"' not in page  # the account corrects: no name asked
    done = analyst.post("/corrections/news:9", data={**_page_tokens(page), "sentiment": "positive", "by": "冒名"})
    assert done.status_code == 303, done.text
    fixed = desk.store.get("news:9")
    assert fixed is not None and fixed.correction is not None and fixed.correction.by == "analyst"
    assert fixed.sentiment is not None and fixed.sentiment.label == "positive"
    # Without the session's token, a signed-in analyst's form is refused.
    bare = {k: v for k, v in _page_tokens(page).items() if k != "session_csrf"}
    assert analyst.post("/corrections/news:9", data={**bare, "sentiment": "negative"}).status_code == 403
    assert re.search(r"analyst 于 .* 更正：情感为正面", analyst.get("/posts/news:9").text)
