"""Robot channels through the outbox: a rate-limited robot is retried with backoff, one refused message does not
hold up the others, and each channel keeps its own pace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from alerts.engine import AlertEngine
from alerts.notifiers import build_notifiers
from alerts.state import AlertState, NewAlert, Outgoing
from models import now
from store.embedded import EmbeddedStore
from tests.alerts.conftest import make_settings
from tests.alerts.robots import DingTalk, WeCom, serving
from tests.alerts.test_channels import SECRET, payload


@pytest.fixture
def dingtalk() -> Iterator[tuple[DingTalk, str]]:
    endpoint = DingTalk(SECRET)
    with serving(endpoint) as url:
        yield endpoint, url


@pytest.fixture
def wecom() -> Iterator[tuple[WeCom, str]]:
    endpoint = WeCom()
    with serving(endpoint) as url:
        yield endpoint, url


def _engine(store: EmbeddedStore, state: AlertState, smtp_port: int, **channels: str) -> AlertEngine:
    settings = make_settings(smtp_port, channels=[
        {"name": name, "type": name.split("-")[-1], "url": url, "timeout": 3,
         **({"secret": SECRET} if name.endswith("dingtalk") else {})} for name, url in channels.items()])
    return AlertEngine(settings, store, state, build_notifiers(settings))


def _alerts(state: AlertState, channel: str, at: datetime, *titles: str) -> list[int]:
    made = []
    for title in titles:
        alert: dict[str, Any] = payload(title=title)
        made.append(state.open_alert(NewAlert(f"post:co:news:{title}", "kw", "co", "high", title, "敏感词：恶臭",
                                              alert["url"], alert, post_ids=[f"news:{title}"]),
                                     Outgoing("open", alert, [(channel, [])]), at))
    return made


def _rows(state: AlertState, alert_ids: list[int]) -> list[dict[str, Any]]:
    return [row for alert_id in alert_ids for row in state.deliveries_of(alert_id)]


def test_a_rate_limited_robot_is_retried_later_through_the_outbox(
        store: EmbeddedStore, state: AlertState, smtp_port: int, dingtalk: tuple[DingTalk, str]) -> None:
    endpoint, url = dingtalk
    engine = _engine(store, state, smtp_port, **{"oncall-dingtalk": url})
    at = now()
    ids = _alerts(state, "oncall-dingtalk", at, "恶臭一", "恶臭二", "恶臭三")
    endpoint.script = ["rate"]
    assert engine.deliver(at) == 0
    assert endpoint.requests == 1  # the rest of the batch waits: the robot would refuse it too
    rows = _rows(state, ids)
    assert {(row["status"], row["attempts"]) for row in rows} == {("pending", 1)}
    assert all("oncall-dingtalk channel down" in row["last_error"] and "410100" in row["last_error"] for row in rows)
    assert engine.deliver(at + timedelta(seconds=5)) == 0 and endpoint.requests == 1  # backing off
    assert engine.deliver(at + timedelta(seconds=11)) == 3  # retry_base is 10s in these settings
    assert [body["markdown"]["text"].count(title) for body, title in
            zip(endpoint.received, ("恶臭一", "恶臭二", "恶臭三"), strict=True)] == [1, 1, 1]
    assert {row["status"] for row in _rows(state, ids)} == {"sent"}


def test_one_refused_message_does_not_stop_the_others(
        store: EmbeddedStore, state: AlertState, smtp_port: int, wecom: tuple[WeCom, str]) -> None:
    endpoint, url = wecom
    endpoint.refuse = lambda body: "违禁" in body["markdown"]["content"]
    engine = _engine(store, state, smtp_port, **{"oncall-wecom": url})
    at = now()
    ids = _alerts(state, "oncall-wecom", at, "恶臭一", "违禁二", "恶臭三")
    assert engine.deliver(at) == 2
    first, refused, third = _rows(state, ids)
    assert first["status"] == third["status"] == "sent"
    assert refused["status"] == "pending" and refused["attempts"] == 1
    assert "Refused: WeCom errcode 40058" in refused["last_error"] and "channel down" not in refused["last_error"]
    assert engine.deliver(at + timedelta(seconds=11)) == 0  # retried alone, refused again; the others stay sent
    assert len(endpoint.received) == 2 and endpoint.requests == 4


def test_each_channel_is_delivered_on_its_own(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                              dingtalk: tuple[DingTalk, str], wecom: tuple[WeCom, str]) -> None:
    (ding, ding_url), (we, we_url) = dingtalk, wecom
    engine = _engine(store, state, smtp_port, **{"oncall-dingtalk": ding_url, "oncall-wecom": we_url})
    at = now()
    ding.script = ["500"]
    ids = _alerts(state, "oncall-dingtalk", at, "恶臭一") + _alerts(state, "oncall-wecom", at, "恶臭二")
    assert engine.deliver(at) == 1  # DingTalk's outage does not hold WeCom back
    assert [row["status"] for row in _rows(state, ids)] == ["pending", "sent"]
    assert len(we.received) == 1 and ding.received == []


def test_rules_that_name_a_robot_send_it_the_alerts_messages(store: EmbeddedStore, state: AlertState, smtp_port: int,
                                                             wecom: tuple[WeCom, str]) -> None:
    from tests.alerts.conftest import feed, make_post
    from yuqing.demo.mailsink import MailSink

    endpoint, url = wecom
    settings = make_settings(smtp_port, channels=[{"name": "oncall-wecom", "type": "wecom", "url": url}], rules=[
        {"name": "kw", "type": "keyword", "scheme": "co", "terms": ["恶臭"], "severity": "high",
         "channels": ["email", "oncall-wecom"], "title": "敏感词"},
        {"name": "neg", "type": "negative", "scheme": "co", "channels": ["oncall-wecom"], "title": "负面舆情"}])
    engine = AlertEngine(settings, store, state)
    t0 = now()
    with MailSink(store.path.parent / "mail", port=smtp_port) as mail:
        feed(store, "evt:a", make_post(1, "北辰燃料乙醇 很差", score=0.1, at=t0, event="evt:a"))
        [alert_id] = engine.run_once(t0)  # the negative rule: the robot alone
        feed(store, "evt:a", make_post(2, "北辰燃料乙醇 恶臭", at=t0 + timedelta(minutes=1), event="evt:a"))
        assert engine.run_once(t0 + timedelta(minutes=2)) == [alert_id]  # a rise: the robot and the mail
        assert [m["To"] for m in mail.messages()] == ["oncall@example.com"]
    texts = [body["markdown"]["content"] for body in endpoint.received]
    assert len(texts) == 2 and "【中】舆情预警" in texts[0] and "【高】预警更新" in texts[1]
    assert f"/alerts/{alert_id}" in texts[1]  # the robot links the alert page, where officers act
    assert [(row["channel"], row["kind"]) for row in state.deliveries_of(alert_id)] == [
        ("oncall-wecom", "open"), ("email", "update"), ("oncall-wecom", "update")]
