"""The service's dashboard over its own alert state: the link in a real alert mail opens a confirm page, and only
the click on it acknowledges the alert; the page shows the event and the draft statement with the contact."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

from tests.service.conftest import StoryService


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:  # type: ignore[override]
        return None


def test_a_mailed_link_is_confirmed_on_the_dashboard(tmp_path: Path, story_service: StoryService) -> None:
    service, sink, port = story_service.service, story_service.mail, story_service.port
    (alert,) = service.alert_state.list_alerts()
    mail = message_from_bytes(sink.received[0].read_bytes(), policy=policy.default)
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"确认（由我跟进）：(\S+)", text).group(1)
    assert link.startswith(f"http://127.0.0.1:{port}/alerts/{alert['id']}/act?t=")

    status, page = _get(link)  # what a mail scanner does, and the officer's first click
    assert status == 200 and "oncall@example.com，您将对下面这条预警执行“<strong>确认</strong>”" in page
    assert service.alert_state.get(alert["id"])["state"] == "open"

    form = {name: value for name, value in re.findall(r'name="(csrf|t)" value="([^"]+)"', page)}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/alerts/{alert['id']}/act", method="POST",
                                     data=urllib.parse.urlencode({**form, "note": "收到"}).encode())
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 303, exc.read().decode("utf-8")
    acked = service.alert_state.get(alert["id"])
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "oncall@example.com"

    # The page's evidence: the post's address answers nothing here, so its text and a note are kept.
    folder = tmp_path / "var" / "evidence" / str(alert["id"])
    deadline = time.monotonic() + 30
    while not (folder / "meta.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    status, page = _get(f"http://127.0.0.1:{port}/alerts/{alert['id']}")
    assert status == 200 and "首发者 河西小区业主" in page and "官方回应</span>" in page
    assert f'href="/alerts/{alert["id"]}/evidence/text.txt"' in page
    status, text = _get(f"http://127.0.0.1:{port}/alerts/{alert['id']}/evidence/text.txt")
    assert status == 200 and "北辰燃料乙醇厂区附近恶臭难忍" in text
    status, draft = _get(f"http://127.0.0.1:{port}/alerts/{alert['id']}/statement.txt")
    assert status == 200 and "联系人及电话：党委宣传部值班室 0000-0000000" in draft
