"""The alert pages: the list, one alert (its event's timeline, history, actions, evidence and draft statement),
the confirm page of a signed mail link, and the same as JSON.

The dashboard imports no alert code: what it does with alerts it is given as callables (see `AlertDesk`).
A GET never changes an alert: mail scanners and link previews open every link they see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboards.web.auth import signed_in
from dashboards.web.forms import FormError, FormGuard
from models import SHANGHAI, Event, Post, now, web_link
from store.base import SearchQuery, Store, StoreError

log = logging.getLogger(__name__)

ACTIONS = ("ack", "assign", "resolve", "reopen", "note")
STATES = ("open", "acknowledged", "resolved")
# What the page offers in each state; the alert state itself decides what it accepts.
OFFERED = {"open": ("ack", "assign", "resolve", "note"), "acknowledged": ("assign", "resolve", "note"),
           "resolved": ("reopen", "note")}
SENTIMENTS = {"negative": "负面", "neutral": "中性", "positive": "正面", "unknown": "未分析"}
EVENT_STATUS = {"active": "持续发酵", "cooling": "热度下降", "closed": "已平息"}
REACH = (("粉丝", lambda p: p.author.followers), ("转发", lambda p: p.metrics.reposts),
         ("评论", lambda p: p.metrics.comments), ("点赞", lambda p: p.metrics.likes), ("阅读", lambda p: p.metrics.views))
TIMELINE = 200  # posts shown on the page: the first, and the latest up to this many
PAGE = 50
NAME_MAX, NOTE_MAX = 64, 2000


def _not_wired(*_: Any) -> Any:
    raise ValueError("预警处置未启用")


@dataclass
class AlertDesk:
    """What the dashboard may do with alerts, as `create_app` was given it."""

    view: Callable[[int], dict[str, Any] | None] = lambda alert_id: None
    list_alerts: Callable[..., list[dict[str, Any]]] = lambda **query: []
    history: Callable[[int], list[dict[str, Any]]] = lambda alert_id: []
    act: Callable[[int, str, str, str, str | None], dict[str, Any]] = _not_wired
    verify_token: Callable[[str], tuple[int, str, str]] = _not_wired
    statement: Callable[[dict[str, Any]], str] = lambda alert: ""
    evidence: Callable[[int], list[tuple[str, Path]]] = lambda alert_id: []
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # severity, state, action, history, platform → 中文

    def label(self, kind: str, code: str | None) -> str:
        return self.labels.get(kind, {}).get(code or "", code or "—")

    def labelled(self, alert: dict[str, Any]) -> dict[str, Any]:
        return {**alert, "severity_label": self.label("severity", alert.get("severity")),
                "state_label": self.label("state", alert.get("state")), "rule_label": self.label("rule", alert.get("rule")),
                "scheme_label": self.label("scheme", alert.get("scheme"))}


@dataclass
class Timeline:
    event: Event | None  # when the alert has a stored one
    posts: list[Post]  # oldest first
    total: int
    first: str | None  # the first post's id
    responses: set[str]  # ids of official statements


def timeline(store: Store, alert: dict[str, Any]) -> Timeline:
    event = store.get_event(alert["event_id"]) if alert.get("event_id") else None
    event = store.labelled_now(event) if event else None
    if event is None:  # an alert about posts alone: the posts that fed it
        posts = sorted((p for p in map(store.get, alert.get("post_ids") or []) if p), key=lambda p: p.time)
        return Timeline(None, posts, len(posts), posts[0].id if posts else None, {p.id for p in posts if p.official})
    found = store.search(SearchQuery(event_id=event.id, limit=TIMELINE))
    posts = sorted(found.posts, key=lambda p: p.time)
    if event.first_post not in {p.id for p in posts} and (first := store.get(event.first_post)):
        posts.insert(0, first)
    return Timeline(event, posts, found.total, event.first_post, set(event.responses))


def when(moment: datetime | None) -> str:
    return f"{moment.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if moment else "—"


def reach(post: Post) -> str:
    return " · ".join(f"{name} {value}" for name, get in REACH if (value := get(post)))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON")


class Json(JSONResponse):
    """JSON with the alert state's datetimes and the store's models as they are."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_json_default, separators=(",", ":")).encode("utf-8")


def statement_download(alert_id: int, text: str) -> Response:
    # A BOM and CRLF line ends: Notepad on older office Windows otherwise shows the Chinese garbled, on one line.
    body = "\ufeff" + "\r\n".join(text.splitlines()) + "\r\n"
    name = quote(f"情况说明-预警{alert_id}.txt")
    return Response(body.encode("utf-8"), media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"statement-{alert_id}.txt\"; filename*=UTF-8''{name}"})


def alert_routes(store: Store, templates: Environment, desk: AlertDesk, guard: FormGuard, site_title: str) -> list[Route]:
    templates.globals.update(label=desk.label, site_title=site_title)
    templates.filters.update(when=when, web_link=web_link, reach=reach)

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status)

    def notice(status: int, heading: str, message: str, alert_id: int | None = None, advice: str = "") -> HTMLResponse:
        return page("notice.html", status, heading=heading, message=message, advice=advice, alert_id=alert_id)

    def missing(alert_id: int) -> HTMLResponse:
        return notice(404, "没有这条预警", f"预警 {alert_id} 不存在。", advice="请从预警列表中选择。")

    def link_refused(alert_id: int, why: str) -> HTMLResponse:
        return notice(403, "链接无效或已过期", why, alert_id, advice=(
            "邮件中的处置链接有有效期，且只对发给您的那封邮件有效。请打开预警页面，填写姓名后直接操作；"
            "或使用最新一封预警邮件中的链接。"))

    def statement(alert: dict[str, Any]) -> tuple[str, str | None]:
        """The draft, or why there is none: a custom template that fails on one alert breaks neither its page."""
        try:
            return desk.statement(alert), None
        except StoreError:
            raise
        except Exception as exc:
            log.exception("the draft statement of alert %s failed", alert["id"])
            return "", str(exc)

    def alert_list(request: Request) -> HTMLResponse:
        state = request.query_params.get("state") or None
        if state is not None and state not in STATES:
            return notice(400, "无法筛选", f"没有“{state}”这种状态。")
        try:
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            offset = 0
        found = [desk.labelled(a) for a in desk.list_alerts(state=state, limit=PAGE + 1, offset=offset)]

        def at(start: int) -> str:
            return "/alerts?" + urlencode({k: v for k, v in (("state", state), ("offset", start)) if v})

        return page("alerts.html", alerts=found[:PAGE], state=state, states=STATES,
                    previous=at(max(0, offset - PAGE)) if offset else None,
                    next=at(offset + PAGE) if len(found) > PAGE else None)

    def alert_page(request: Request) -> HTMLResponse:
        alert_id = request.path_params["alert_id"]
        alert = desk.view(alert_id)
        if alert is None:
            return missing(alert_id)
        draft, draft_error = statement(alert)
        done = request.query_params.get("done")
        return page("alert.html", alert=desk.labelled(alert), history=desk.history(alert_id),
                    timeline=timeline(store, alert), evidence=desk.evidence(alert_id), statement=draft,
                    statement_error=draft_error, form_token=guard.issue(alert_id),
                    offered=OFFERED.get(alert["state"], ("note",)), done=done if done in ACTIONS else None,
                    sentiments=SENTIMENTS, event_status=EVENT_STATUS, now=now())

    def confirm(request: Request) -> HTMLResponse:
        """The signed link's page: says what the link does and asks for the click that does it."""
        alert_id = request.path_params["alert_id"]
        token = request.query_params.get("t", "")
        try:
            token_id, action, who = desk.verify_token(token)
        except ValueError as exc:
            return link_refused(alert_id, str(exc))
        if token_id != alert_id:
            return link_refused(alert_id, "此链接属于另一条预警。")
        alert = desk.view(alert_id)
        if alert is None:
            return missing(alert_id)
        who = account.name if (account := signed_in()) else who  # as `act` will record it
        return page("confirm.html", alert=desk.labelled(alert), action=action, who=who, token=token,
                    form_token=guard.issue(alert_id))

    async def act(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        try:
            form = await guard.read(request, alert_id)
        except FormError as exc:
            return notice(403, "无法提交", str(exc), alert_id)
        if await run_in_threadpool(desk.view, alert_id) is None:
            return missing(alert_id)
        note = form.get("note", "").strip()
        if token := form.get("t"):
            try:
                token_id, action, who = desk.verify_token(token)  # again: it may have expired since the page
            except ValueError as exc:
                return link_refused(alert_id, str(exc))
            if token_id != alert_id:
                return link_refused(alert_id, "此链接属于另一条预警。")
            who = account.name if (account := signed_in()) else who
            assignee = who if action == "assign" else None  # a mailed "assign" link means "assign it to me"
        else:
            action = form.get("action", "")
            # Signed in, the account acts: the page asks for no name, and none typed into the form counts.
            who = account.name if (account := signed_in()) else form.get("who", "").strip()
            assignee = form.get("assignee", "").strip() or None
        problem = (f"未知操作“{action}”。" if action not in ACTIONS else
                   "请填写处理人姓名。" if not who else
                   "“指派”须填写被指派人。" if action == "assign" and not assignee else
                   f"姓名不能超过 {NAME_MAX} 个字。" if len(who) > NAME_MAX or len(assignee or "") > NAME_MAX else
                   f"备注不能超过 {NOTE_MAX} 个字。" if len(note) > NOTE_MAX else None)
        if problem:
            return notice(400, "无法提交", problem, alert_id, advice="请返回预警页面修改后重新提交。")
        try:
            await run_in_threadpool(desk.act, alert_id, action, who, note, assignee)
        except ValueError as exc:
            return notice(409, "操作未执行", str(exc), alert_id, advice="预警的当前状态见预警页面。")
        return RedirectResponse(f"/alerts/{alert_id}?done={action}", status_code=303)

    def statement_txt(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        alert = desk.view(alert_id)
        if alert is None:
            return missing(alert_id)
        draft, error = statement(alert)
        return notice(500, "草稿生成失败", error, alert_id) if error is not None else statement_download(alert_id, draft)

    def evidence_file(request: Request) -> Response:
        alert_id, name = request.path_params["alert_id"], request.path_params["name"]
        # Only a name the evidence list gives is served: no path from the request reaches the file system.
        path = dict(desk.evidence(alert_id)).get(name)
        if path is None or not path.is_file():
            return notice(404, "没有这份证据", f"预警 {alert_id} 没有名为“{name}”的证据文件。", alert_id)
        kind = "text/plain; charset=utf-8" if name.endswith(".txt") else (
            "application/json" if name.endswith(".json") else "application/octet-stream")
        # Saved pages are the crawled sites' markup: downloaded, never shown as a page of this site.
        return FileResponse(path, media_type=kind, filename=name, content_disposition_type="attachment")

    def api_list(request: Request) -> Response:
        params = request.query_params
        state = params.get("state") or None
        if state is not None and state not in STATES:
            return Json({"error": f"state must be one of {list(STATES)}"}, status_code=400)
        try:
            limit = max(1, min(200, int(params.get("limit", str(PAGE)))))
            offset = max(0, int(params.get("offset", "0")))
        except ValueError:
            return Json({"error": "limit and offset must be numbers"}, status_code=400)
        found = desk.list_alerts(state=state, scheme=params.get("scheme") or None, limit=limit, offset=offset)
        return Json({"alerts": [desk.labelled(a) for a in found]})

    def api_alert(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        alert = desk.view(alert_id)
        if alert is None:
            return Json({"error": f"no alert {alert_id}"}, status_code=404)
        line = timeline(store, alert)
        return Json({"alert": desk.labelled(alert), "history": desk.history(alert_id), "event": line.event,
                     "posts": [p.id for p in line.posts], "responses": sorted(line.responses),
                     "evidence": [name for name, _ in desk.evidence(alert_id)]})

    return [
        Route("/alerts", alert_list),
        Route("/alerts/{alert_id:int}", alert_page),
        Route("/alerts/{alert_id:int}/act", confirm, methods=["GET"]),
        Route("/alerts/{alert_id:int}/act", act, methods=["POST"]),
        Route("/alerts/{alert_id:int}/statement.txt", statement_txt),
        Route("/alerts/{alert_id:int}/evidence/{name}", evidence_file),
        Route("/api/alerts", api_list),
        Route("/api/alerts/{alert_id:int}", api_alert),
    ]
