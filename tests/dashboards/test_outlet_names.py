"""People read names, not ids: outlets (a post's own outlet, else its source's configured display_name, else the
source's id; events count their posts by outlet), and the titles of watch schemes and alert rules."""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import timedelta
from pathlib import Path

from parsel import Selector
from starlette.testclient import TestClient

import settings as config
from analysis.grams import index_grams
from dashboards.web.app import create_app
from models import Event, OutletNames, now
from store.embedded import EmbeddedStore
from tests.dashboards.conftest import HOSTS, _post, alerts, parse
from yuqing.demo.runner import CONFIG
from yuqing.demo.timeline import COMPANY
from yuqing.service import names_for_people

NAMES = OutletNames({"baihua-news": "白桦新闻网"})  # as [[sources]] display_name configures it


def _event() -> Event:
    last = now() - timedelta(minutes=5)
    # Counted before events knew outlets (by_source), and since (by_outlet: a post with no outlet is its source's).
    return Event(id="evt:00000000000000aa", title="厂区恶臭", schemes=["co"], first_post="news:1",
                 first_poster="baihua-news", first_seen=last - timedelta(hours=1), last_seen=last, posts=6,
                 by_source={"baihua-news": 6}, by_outlet={"白桦晚报": 4, "baihua-news": 2},
                 by_platform={"news": 6}, risk=0.7, updated_at=now())


def test_event_cards_pages_and_posts_name_outlets(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        store.upsert([_post(1, "北辰燃料乙醇 夜间 异味", "negative", 1).model_copy(update={"outlet": "白桦晚报",
                                                                                          "event_id": _event().id}),
                      _post(2, "北辰燃料乙醇 开放日", "positive", 2)])  # stored before its source had a name
        store.upsert_events([_event(), _event().model_copy(update={"id": "evt:00000000000000bb", "by_outlet": {}})])
        c = TestClient(create_app(store, alerts, parse, allowed_hosts=HOSTS, outlets=NAMES),
                       base_url="http://127.0.0.1")
        summary = c.get("/api/summary", params={"range": "24h"}).json()
        cards = {e["id"]: e for e in summary["events"]}
        assert cards["evt:00000000000000aa"]["sources"] == ["白桦晚报", "白桦新闻网"]
        assert cards["evt:00000000000000bb"]["sources"] == ["白桦新闻网"]  # an event stored before: by source
        assert {e["first_poster"] for e in cards.values()} == {"白桦新闻网"}
        assert [b["label"] for b in summary["breakdowns"]["source"]] == ["白桦新闻网"]
        assert {p["outlet"] for p in summary["latest_posts"]} == {"白桦晚报", "白桦新闻网"}

        event_page = c.get("/events/evt:00000000000000aa").text
        facts = Selector(event_page)
        assert facts.css("#outlets::text").get() == "白桦晚报 4、白桦新闻网 2"
        assert facts.css("#first-poster a::text").get() == "白桦新闻网"
        page = c.get("/search", params={"q": "北辰"}).text
        assert sorted(Selector(page).css("#results-list li .meta span:nth-child(2)::text").getall()) == [
            "白桦新闻网", "白桦晚报"]
        assert "白桦新闻网（" in c.get("/posts/news:2").text
        for text in (event_page, page, c.get("/posts/news:2").text):
            assert "baihua-news" not in text
        rows = list(csv.DictReader(io.StringIO(c.get("/search.csv", params={"q": "北辰"}).text.lstrip("\ufeff"))))
        assert sorted((r["来源"], r["采集源"]) for r in rows) == [("白桦新闻网", "baihua-news"), ("白桦晚报", "baihua-news")]


def test_schemes_and_rules_are_shown_by_their_titles(tmp_path: Path) -> None:
    settings = config.Settings(**tomllib.loads(CONFIG.format(store="var", company=COMPANY, site="http://127.0.0.1:9",
                                                             interval=15, smtp_port=9, port=9)))
    named = names_for_people(settings)
    assert named["scheme"] == {"beichen": "北辰燃料乙醇"} and named["rule"]["sensitive-terms"] == "敏感词"
    labels = {**named, "scheme": {"co": "北辰燃料乙醇"}}  # the schemes these pages' posts and alerts are of
    with EmbeddedStore(tmp_path / "store", grams=index_grams) as store:
        store.upsert([_post(1, "北辰燃料乙醇 夜间 异味", "negative", 1).model_copy(update={"event_id": _event().id})])
        store.upsert_events([_event()])
        c = TestClient(create_app(store, alerts, parse, allowed_hosts=HOSTS, labels=labels, outlets=NAMES),
                       base_url="http://127.0.0.1")
        summary = c.get("/api/summary", params={"range": "24h"}).json()
        assert summary["events"][0]["schemes"] == ["北辰燃料乙醇"]
        assert summary["alerts"][0]["rule_label"] == "敏感词" and summary["alerts"][0]["scheme_label"] == "北辰燃料乙醇"
        event_page = c.get(f"/events/{_event().id}").text
        assert "北辰燃料乙醇</dd>" in event_page and ">co<" not in event_page
        assert Selector(c.get("/posts/news:1").text).css("#schemes strong::text").get() == "北辰燃料乙醇"
