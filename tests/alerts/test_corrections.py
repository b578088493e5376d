"""The alert run after an analyst's correction reads the corrected post: a post corrected to negative alerts at
the next run, even though it was crawled before the last one; one corrected away from negative, or marked not
about the enterprise, does not."""

from __future__ import annotations

from datetime import timedelta

from alerts.engine import AlertEngine
from alerts.state import AlertState
from models import Correction, Sentiment, now
from store.embedded import EmbeddedStore
from tests.alerts.conftest import make_post, make_settings

NEGATIVE = [{"name": "neg", "type": "negative", "scheme": "co", "title": "负面舆情"}]


def test_the_next_run_alerts_on_a_post_corrected_to_negative(store: EmbeddedStore, state: AlertState,
                                                             smtp_port: int) -> None:
    engine = AlertEngine(make_settings(smtp_port, NEGATIVE), store, state)
    start = now()
    store.upsert([make_post(1, "北辰燃料乙醇周边河水颜色异常", "附近居民称排污口附近有异味", score=0.5, at=start)])
    assert engine.evaluate(start + timedelta(minutes=1)) == []
    store.correct("news:1", Correction(sentiment="negative", by="李明", at=start + timedelta(minutes=2)))
    [alert_id] = engine.evaluate(start + timedelta(minutes=3))
    alert = state.get(alert_id)
    assert alert is not None and alert["post_ids"] == ["news:1"] and alert["reasons"][0]["rule"] == "neg"
    assert engine.evaluate(start + timedelta(minutes=4)) == []  # read once, as any post


def test_no_alert_for_a_post_corrected_away_from_negative_or_not_relevant(store: EmbeddedStore, state: AlertState,
                                                                         smtp_port: int) -> None:
    engine = AlertEngine(make_settings(smtp_port, NEGATIVE), store, state)
    start = now()
    # The model called 1 negative with a lean of 0.45 (the neutral class took the rest): the correction changes the
    # verdict only, and the lean alone is no verdict.
    called = make_post(1, "北辰燃料乙醇员工吐槽食堂太难吃", score=0.45, at=start)
    store.upsert([called.model_copy(update={"sentiment": Sentiment(label="negative", score=0.45)}),
                  make_post(2, "北辰区地铁站恶臭难忍", "北辰燃料乙醇无关", score=0.02, at=start)])
    store.correct("news:1", Correction(sentiment="neutral", by="李明", at=start))
    store.correct("news:2", Correction(relevant=False, by="李明", at=start))
    assert engine.evaluate(start + timedelta(minutes=1)) == []
    assert state.list_alerts() == []
