"""DingTalk, WeCom and Feishu robots and a generic webhook, against endpoints on 127.0.0.1 that check signatures,
shapes and sizes and answer as the platforms do."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

import settings as config
from alerts.notifiers import ChannelDown, build_notifiers
from alerts.notifiers.hooks import HookNotifier, Refused
from tests.alerts.robots import DingTalk, Endpoint, Feishu, Receiver, WeCom, serving

PLATFORMS = {"dingtalk": DingTalk, "wecom": WeCom, "feishu": Feishu, "webhook": Receiver}
SIGNED = ("dingtalk", "feishu", "webhook")
ROBOTS = ("dingtalk", "wecom", "feishu")
SECRET = "SEC0123456789abcdef"
ALERT_URL = "http://127.0.0.1:8000/alerts/7"


def payload(**changes: Any) -> dict[str, Any]:
    alert = {
        "alert_id": 7, "alert_key": "7.20260301101500000000", "kind": "open", "severity": "high",
        "severity_label": "高", "title": "北辰燃料乙醇厂区附近恶臭难忍", "scheme": "北辰燃料乙醇",
        "summary": "敏感词：出现“恶臭”；负面舆情：情感为负面（正负倾向 0.02）",
        "reasons": ["敏感词：出现“恶臭”", "负面舆情：情感为负面（正负倾向 0.02）"], "sentiment": "负面（正负倾向 0.02）",
        "url": "http://127.0.0.1/n/1.html", "alert_url": ALERT_URL,
        "context": "本事件第 3 条，首发 14:44 河西小区业主", "risk": 0.8234,
    }
    return alert | changes


def notifier(kind: str, url: str, secret: str = "", timeout: float = 3.0, clock: Any = time.time) -> HookNotifier:
    channel = config.Channel(name=f"oncall-{kind}", type=kind, url=url, secret=secret, timeout=timeout)
    made = build_notifiers(config.Settings(alerts={"channels": [channel.model_dump()]}))[1]
    assert isinstance(made, HookNotifier) and made.channel == f"oncall-{kind}"
    made.clock = clock
    return made


@pytest.fixture(params=list(PLATFORMS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def robot(kind: str) -> Iterator[tuple[Endpoint, HookNotifier]]:
    endpoint = PLATFORMS[kind](SECRET if kind in SIGNED else "")
    with serving(endpoint) as url:
        yield endpoint, notifier(kind, url, SECRET if kind in SIGNED else "")


def send(made: HookNotifier, *alerts: dict[str, Any]) -> None:
    with made.session() as session:
        for alert in alerts:
            session.send(alert, [])


def shown(kind: str, body: dict[str, Any]) -> str:
    """What a reader of the group sees, as the platform gets it."""
    if kind == "dingtalk":
        return body["markdown"]["text"]
    if kind == "wecom":
        return body["markdown"]["content"]
    card = body["card"]
    return "\n".join(text["content"] for text in _texts(card))


def _texts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "tag" in node and "content" in node:
            yield node
        for value in node.values():
            yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def links(kind: str, body: dict[str, Any]) -> list[str]:
    if kind == "feishu":
        return [button["url"] for element in body["card"]["elements"] if element["tag"] == "action"
                for button in element["actions"]]
    return re.findall(r"\]\(([^)]*)\)", shown(kind, body))


def test_an_alert_reaches_each_platform_signed_and_worded(kind: str, robot: tuple[Endpoint, HookNotifier]) -> None:
    endpoint, made = robot
    send(made, payload())
    [body] = endpoint.received
    if kind == "webhook":
        assert body == {key: value for key, value in payload().items()}
        return
    text = shown(kind, body)
    lean = "（正负倾向 0.02）"  # markdown's robots show parentheses full-width anyway
    for part in ("【高】舆情预警", "北辰燃料乙醇厂区附近恶臭难忍", "监测方案：北辰燃料乙醇", "敏感词：出现“恶臭”",
                 f"负面舆情：情感为负面{lean}", f"情感：负面{lean}",
                 "事件：本事件第 3 条，首发 14:44 河西小区业主", "风险：0.82"):
        assert part in text, (part, text)
    assert links(kind, body) == [ALERT_URL, "http://127.0.0.1/n/1.html"]


def test_the_webhook_signature_covers_timestamp_and_body() -> None:
    endpoint = Receiver(SECRET)
    with serving(endpoint) as url:
        send(notifier("webhook", url, SECRET), payload())
    [raw], [headers] = endpoint.raw, endpoint.headers
    assert headers["X-Yuqing-Alert-Key"] == "7.20260301101500000000"
    assert headers["X-Yuqing-Signature"].startswith("sha256=")
    assert endpoint.check("/hooks/yuqing", {}, headers, raw) is None
    tampered = raw.replace("恶臭".encode(), "芳香".encode())
    assert endpoint.check("/hooks/yuqing", {}, headers, tampered) == (401, {"error": "bad signature"})


@pytest.mark.parametrize("signing", ["wrong secret", "stale clock"])
@pytest.mark.parametrize("kind", SIGNED)
def test_a_wrong_secret_or_clock_is_the_channel_down(kind: str, signing: str) -> None:
    endpoint = PLATFORMS[kind](SECRET)
    with serving(endpoint) as url:
        made = notifier(kind, url, "SECwrong" if signing == "wrong secret" else SECRET,
                        clock=lambda: time.time() - (2 * 3600 if signing == "stale clock" else 0))
        with pytest.raises(ChannelDown):
            send(made, payload())
    assert endpoint.requests == 1 and endpoint.received == []


@pytest.mark.parametrize("answer", ["rate", "500"])
def test_rate_limits_and_server_errors_are_the_channel_down(robot: tuple[Endpoint, HookNotifier], answer: str) -> None:
    endpoint, made = robot
    endpoint.script = [answer]
    with pytest.raises(ChannelDown, match="410100|45009|11232|429" if answer == "rate" else "HTTP 500"):
        send(made, payload())
    assert endpoint.received == []


def test_a_wrong_robot_address_is_the_channel_down(kind: str) -> None:
    endpoint = PLATFORMS[kind]()
    with serving(endpoint) as url:
        with pytest.raises(ChannelDown, match="400101|93000|19001|HTTP 404"):
            send(notifier(kind, url.replace(endpoint.credential, "revoked")), payload())
    assert endpoint.requests == 1 and endpoint.received == []


def test_a_hung_endpoint_costs_one_timeout(kind: str) -> None:
    endpoint = PLATFORMS[kind]()
    with serving(endpoint) as url:
        endpoint.script = ["hang"]
        started = time.monotonic()
        with pytest.raises(ChannelDown, match="timed out"):
            send(notifier(kind, url, timeout=0.5), payload())
        assert time.monotonic() - started < 2


def test_a_refused_message_is_not_the_channel_down(robot: tuple[Endpoint, HookNotifier]) -> None:
    endpoint, made = robot
    endpoint.refuse = lambda body: "违禁" in json.dumps(body, ensure_ascii=False)
    with made.session() as session:
        with pytest.raises(Refused) as caught:
            session.send(payload(title="违禁词"), [])
        assert not isinstance(caught.value, ChannelDown)
        session.send(payload(), [])  # the same session goes on
    assert len(endpoint.received) == 1


def test_the_robot_key_never_reaches_an_error_message() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for kind, endpoint in (("dingtalk", DingTalk()), ("wecom", WeCom()), ("feishu", Feishu())):
        url = endpoint.url(f"http://127.0.0.1:{port}")
        with pytest.raises(ChannelDown) as caught:
            send(notifier(kind, url, SECRET if kind in SIGNED else ""), payload())
        assert "Connection refused" in str(caught.value) and endpoint.credential not in str(caught.value)


def test_a_robot_is_held_to_its_platforms_rate_before_it_is_throttled() -> None:
    endpoint = DingTalk()
    with serving(endpoint) as url:
        made = notifier("dingtalk", url)
        send(made, *[payload(alert_id=n) for n in range(20)])
        started = time.monotonic()
        with pytest.raises(ChannelDown, match="held back: the platform takes 20 messages in 60s"):
            send(made, payload(alert_id=20))
        assert time.monotonic() - started < 0.5  # not waited out: left to the outbox's backoff
    assert endpoint.requests == 20


def test_feishus_five_a_second_is_waited_out() -> None:
    endpoint = Feishu()
    with serving(endpoint) as url:
        started = time.monotonic()
        send(notifier("feishu", url), *[payload(alert_id=n) for n in range(6)])
        assert time.monotonic() - started >= 0.9
    assert len(endpoint.received) == 6


LIMITS = {"dingtalk": 20000, "wecom": 4096, "feishu": 20000}


@pytest.mark.parametrize("kind", ROBOTS)
def test_a_long_alert_is_cut_to_the_platforms_limit(kind: str) -> None:
    endpoint = PLATFORMS[kind](SECRET if kind in SIGNED else "")
    long_reason = "居民投诉异味𠮷😀" * 60  # 3- and 4-byte characters
    alert = payload(title="标题很长" * 300, reasons=[f"{n}：{long_reason}" for n in range(100)])
    with serving(endpoint) as url:
        send(notifier(kind, url, SECRET if kind in SIGNED else ""), alert)
    [body] = endpoint.received
    measured = len(endpoint.raw[0]) if kind != "wecom" else len(body["markdown"]["content"].encode())
    assert LIMITS[kind] - 400 < measured <= LIMITS[kind]  # filled, and within the limit
    text = shown(kind, body)
    assert "\ufffd" not in text and "…" in text
    assert links(kind, body)[0] == ALERT_URL  # the way to act on it survives the cut
    assert "0：居民投诉异味𠮷😀" in text and "99：" not in text


@pytest.mark.parametrize("kind", ROBOTS)
def test_a_post_address_too_long_to_link_is_shown_cut(kind: str) -> None:
    endpoint = PLATFORMS[kind]()
    address = "http://127.0.0.1/n/1.html?utm=" + "x" * 5000
    with serving(endpoint) as url:
        send(notifier(kind, url), payload(url=address))
    [body] = endpoint.received
    assert links(kind, body) == [ALERT_URL]
    assert "原帖地址（未加链接）：http" in shown(kind, body) and "x" * 200 not in shown(kind, body)


INJECTED = {
    "title": "北辰[点我领奖](http://evil.example/a) ![x](http://evil.example/p.png) <@all> <at id=all></at>",
    "reasons": ["敏感词：**恶臭**\n# 标题\n> 引用", '<font color="warning">假的</font> `code` https://evil.example/b'],
    "context": "本事件 [第3条](javascript:alert(1)) &lt;b&gt;",
    "scheme": "co|表格|",
}


@pytest.mark.parametrize("kind", ROBOTS)
def test_crawled_text_cannot_add_links_mentions_or_markup(kind: str) -> None:
    endpoint = PLATFORMS[kind](SECRET if kind in SIGNED else "")
    with serving(endpoint) as url:
        made = notifier(kind, url, SECRET if kind in SIGNED else "")
        send(made, payload(**INJECTED, url="http://127.0.0.1/n/1.html?q=a)(b][c<d>"),
             payload(**INJECTED, url="javascript:alert(1)"))
    linked, unlinked = endpoint.received
    assert links(kind, linked) == [ALERT_URL, "http://127.0.0.1/n/1.html?q=a%29%28b%5D%5Bc%3Cd%3E"]
    assert links(kind, unlinked) == [ALERT_URL]
    assert "原帖地址（未加链接）：javascript:alert" in shown(kind, unlinked)
    for body in (linked, unlinked):
        text = shown(kind, body)
        if kind == "feishu":
            assert {node["tag"] for node in _texts(body["card"])} == {"plain_text"}  # nothing is parsed
            assert "[点我领奖](http://evil.example/a)" in text  # shown as written, inert
            continue
        assert not re.search(r"https?://evil", text)
        assert "<@" not in text and "<at" not in text and "![" not in text and "**恶臭**" not in text
        assert text.count("<") == (2 if kind == "wecom" else 0)  # WeCom: our own <font> around the heading
        assert "\n# " not in text and "\n> 引用" not in text and "`" not in text
