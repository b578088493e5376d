"""The service's dashboard: an event's page names the alert the service raised on it, and saved searches are kept
in the store's folder."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.service.conftest import StoryService
from tests.service.test_dashboard_alerts import _get, _NoRedirect


def test_event_page_and_saved_searches_over_the_services_state(tmp_path: Path, story_service: StoryService) -> None:
    service, port = story_service.service, story_service.port
    (alert,) = service.alert_state.list_alerts()
    status, page = _get(f"http://127.0.0.1:{port}/events/{alert['event_id']}")
    assert status == 200 and f'<li data-alert-id="{alert["id"]}">' in page
    assert f'<a href="/alerts/{alert["id"]}">' in page and "待处理" in page

    status, page = _get(f"http://127.0.0.1:{port}/search?q=%E6%81%B6%E8%87%AD")
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/search/saved", method="POST", data=(
        urllib.parse.urlencode({"csrf": token, "name": "恶臭", "query": "q=恶臭"}).encode()))
    try:
        urllib.request.build_opener(_NoRedirect).open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        assert exc.code == 303, exc.read().decode("utf-8")
    saved = json.loads((tmp_path / "var" / "saved-searches.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in saved["searches"]] == ["恶臭"]
