"""The built-in dashboard: one page and a small JSON API over the Store interface.

Everything it needs is served from this package (no CDN, no web fonts): offices that watch it often
have no internet.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboards.web.accounts import Accounts
from dashboards.web.alert_pages import AlertDesk, alert_routes
from dashboards.web.auth import Gate, SignInPolicy, auth_routes
from dashboards.web.correction_pages import correction_routes
from dashboards.web.event_pages import EventAlerts, event_routes
from dashboards.web.forms import FormGuard
from dashboards.web.overview import RANGES, AlertCount, NewestAlerts, Overview, post_summary
from dashboards.web.saved_searches import SavedSearches
from dashboards.web.search_pages import SearchError, SearchForm, search_routes
from store.base import Store, StoreError
from store.query import Query, QueryError
from models import OutletNames, now

HERE = Path(__file__).parent

RecentAlerts = Callable[[int], list[dict[str, Any]]]
SourceHealth = Callable[[], list[dict[str, Any]]]
Parse = Callable[[str], Query | None]  # the query language, fed by analysis (store.query)

# The page runs its one script and stylesheet from here and talks to its own API, nothing else; no other site
# may frame it, and links to crawled pages tell those sites nothing of where staff came from.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def host_patterns(hosts: Sequence[str]) -> list[str]:
    """Host header forms of configured names: an IPv6 address comes in brackets ([::1]:8000)."""
    return [f"[{host}]" if ":" in host else host for host in hosts]


def create_app(store: Store, recent_alerts: RecentAlerts, parse: Parse, *, allowed_hosts: Sequence[str],
               refresh_seconds: float = 15, title: str = "yuqing 舆情监测",
               source_health: SourceHealth = list,
               alert_view: Callable[[int], dict[str, Any] | None] | None = None,
               alert_list: Callable[..., list[dict[str, Any]]] | None = None,
               alert_history: Callable[[int], list[dict[str, Any]]] | None = None,
               alert_act: Callable[[int, str, str, str, str | None], dict[str, Any]] | None = None,
               verify_token: Callable[[str], tuple[int, str, str]] | None = None,
               statement: Callable[[dict[str, Any]], str] | None = None,
               evidence: Callable[[int], list[tuple[str, Path]]] | None = None,
               labels: Mapping[str, Mapping[str, str]] | None = None,
               form_key: bytes | None = None,
               event_alerts: EventAlerts = lambda event: [],
               newest_alerts: NewestAlerts | None = None,
               alert_count: AlertCount | None = None,
               watch_terms: Collection[str] = (),
               saved_searches: Path | None = None, accounts: Accounts | None = None,
               sign_in: SignInPolicy = SignInPolicy(),
               configuration: Callable[[], dict[str, Any]] = dict,
               outlets: OutletNames = OutletNames()) -> Starlette:
    """The dashboard; it answers only requests whose Host is one of `allowed_hosts` (a page on another
    site that rebinds its own name to this address gets 400, not the posts). The alert callables are the
    alert state's (see alert_pages.AlertDesk); `labels` names severities, states and actions in Chinese;
    `form_key` signs the forms and the session cookie (kept across restarts, a form opened before one still
    posts); `event_alerts` gives an event's alerts for its page. The overview shows each event's newest alert
    through `newest_alerts` and counts the range's alerts with `alert_count`; its hot keywords leave out the
    schemes' `watch_terms`. `saved_searches` is the file
    saved searches are kept in (None: none can be saved). With `accounts`, pages ask for sign-in once an account
    exists (see auth); `configuration` is what the admin page shows of the settings, secrets masked. `outlets`
    names posts' outlets and the configured sources for people wherever the pages show them."""
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    templates.globals.update(outlet=outlets, source_name=outlets.source, outlets_of=outlets.of_event)
    given = {"view": alert_view, "list_alerts": alert_list, "history": alert_history, "act": alert_act,
             "verify_token": verify_token, "statement": statement, "evidence": evidence, "labels": labels}
    desk = AlertDesk(**{name: value for name, value in given.items() if value is not None})
    guard = FormGuard(form_key)
    signing_in = auth_routes(accounts, templates, guard, sign_in, configuration) if accounts is not None else []
    overview = Overview(store, recent_alerts, desk.labelled, labels or {}, newest_alerts, alert_count,
                        frozenset(watch_terms), outlets)

    async def index(request: Request) -> HTMLResponse:
        page = templates.get_template("index.html").render(title=title, refresh_ms=int(refresh_seconds * 1000))
        return HTMLResponse(page)

    def summary(request: Request) -> JSONResponse:
        key = request.query_params.get("range", "24h")
        if key not in RANGES:
            return JSONResponse({"error": f"range must be one of {sorted(RANGES)}"}, status_code=400)
        return JSONResponse(overview.summary(key))

    def search(request: Request) -> JSONResponse:
        params = request.query_params
        try:
            limit = max(1, min(200, int(params.get("limit", "20"))))
        except ValueError:
            return JSONResponse({"error": "limit must be a number"}, status_code=400)
        try:
            # Read as the search page reads its address, at this moment: its link lists the same posts, all of them.
            form = replace(SearchForm.read(params), at=int(now().timestamp()))
            result = store.search(form.query(parse, limit, 0))
        except SearchError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except QueryError as exc:
            return JSONResponse({"error": exc.chinese, "position": exc.position}, status_code=400)
        return JSONResponse({"total": result.total, "posts": [post_summary(p, outlets) for p in result.posts],
                             "search_url": form.address()})

    def sources(request: Request) -> JSONResponse:
        # Named as people know them; the id stays beside the name: it is what `yuqing crawl` and the logs say.
        health = [{**s, "name": outlets.source(s["source"])} for s in source_health()]
        return JSONResponse({"generated_at": now().isoformat(), "sources": health})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def unavailable(request: Request, exc: Exception) -> Response:
        # A store that is away (a cluster down, an index being rebuilt) is said on the page, not a bare 500.
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": f"存储暂不可用：{exc}"}, status_code=503)
        page = templates.get_template("notice.html").render(
            heading="存储暂不可用", message=str(exc), advice="请稍后刷新本页；持续出现时请检查存储服务。", alert_id=None)
        return HTMLResponse(page, status_code=503)

    return Starlette(exception_handlers={StoreError: unavailable}, routes=[
        Route("/", index),
        Route("/api/summary", summary),
        Route("/api/search", search),
        Route("/api/sources", sources),
        Route("/healthz", health),
        *alert_routes(store, templates, desk, guard, title),
        *search_routes(store, templates, parse, SavedSearches(saved_searches), guard, desk.label, outlets),
        *correction_routes(store, templates, guard),
        *event_routes(store, templates, desk, event_alerts),
        *signing_in,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ], middleware=[
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=host_patterns(allowed_hosts), www_redirect=False),
        *([Middleware(Gate, accounts=accounts, guard=guard, policy=sign_in)] if accounts is not None else []),
    ])


class ListenError(OSError):
    """The dashboard cannot listen where it is configured to (port taken, address not this machine's)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # what the system said, for callers that word the advice themselves


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port now, so a taken port is known before anyone is told the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        fix = ("stop what uses it or choose another [dashboard] port" if exc.errno == errno.EADDRINUSE
               else "check [dashboard] host and port")
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ListenError(f"the dashboard cannot listen on {host}:{port}: {why}; {fix}", why) from None


class DashboardServer:
    """uvicorn in a background thread, stoppable. The port is bound when the object is made."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.socket = listen(host, port)
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, args=([self.socket],), name="dashboard", daemon=True)

    def start(self, timeout: float = 10.0) -> DashboardServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"the dashboard did not start on {self.server.config.host}:{self.server.config.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self.socket.close()


def serve(app: Starlette, host: str, port: int) -> DashboardServer:
    return DashboardServer(app, host, port).start()
