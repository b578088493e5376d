"""Sign-in for the dashboard: a session cookie, roles per page, CSRF on every change, login throttling, and
a record of who did what.

With no accounts the dashboard stays open, as it always was, but only on a loopback address (`exposure_error`
says so before the service listens). Once an account exists every page but the sign-in page asks for one.

The session cookie is `HttpOnly` (no script reads it), `SameSite=Lax` and `Secure` over https. Lax, not
Strict: alert mail links to its alert's page from the mail client, another site, and under Strict that first
visit would arrive without the cookie and ask a signed-in officer to sign in again. Lax still keeps the cookie
off every cross-site POST and every cross-site subrequest, and no GET here changes anything.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboards.web.accounts import Account, AccountError, Accounts, Session
from dashboards.web.roles import ROLE_LABELS, ROLES
from dashboards.web.forms import MAX_BODY, FormError, FormGuard, read_form

log = logging.getLogger("dashboards.web.access")

COOKIE = "yuqing_session"
LOGIN_COOKIE = "yuqing_login"  # the sign-in form's own nonce: a page elsewhere cannot sign anyone in as itself
CSRF_FIELD = "session_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_PATHS = ("/login", "/static/", "/healthz")
# Paths that need more than reading; the first prefix that matches decides.
READ_ROLES = (("/admin", "admin"), ("/api/search", "analyst"), ("/search", "analyst"), ("/api/export", "analyst"),
              ("/export", "analyst"))
WRITE_ROLES = (("/admin", "admin"), ("/alerts/", "officer"), ("/logout", "viewer"))

DONE = {"add": "已开设账号。", "role": "已修改角色。", "passwd": "已重设密码，该账号的登录已全部退出。", "remove": "已删除账号。"}

_signed_in: contextvars.ContextVar[tuple[Account, str] | None] = contextvars.ContextVar("signed_in", default=None)


def signed_in() -> Account | None:
    """The account of the request being answered, or None (the dashboard is open, or this is /login)."""
    current = _signed_in.get()
    return current[0] if current else None


def required_role(method: str, path: str) -> str:
    table = READ_ROLES if method in SAFE_METHODS else WRITE_ROLES
    default = "viewer" if method in SAFE_METHODS else "analyst"  # other changes: saved searches, corrections
    return next((role for prefix, role in table if path.startswith(prefix)), default)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_error(host: str, accounts: Accounts) -> str | None:
    """Why the dashboard may not listen on `host` as things stand, or None."""
    if is_loopback(host) or accounts.count():
        return None
    return (f"the dashboard would listen on {host}, open to other machines, and no accounts exist: add one with "
            f"`yuqing users add NAME --role admin`, or set [dashboard] host = \"127.0.0.1\"")


@dataclass(frozen=True)
class SignInPolicy:
    idle: float = 2 * 3600.0  # a session unused this long ends
    lifetime: float = 12 * 3600.0  # and any session after a shift
    secure_cookie: bool = False  # Secure even when the request came over plain http (a TLS proxy that says nothing)


class Throttle:
    """Failed sign-ins per account and per client address in a sliding window; past the limit, sign-in for
    that account or from that address waits until the oldest failure leaves the window. Kept in memory:
    a restart forgets it, which only an administrator can cause."""

    def __init__(self, per_account: int = 5, per_address: int = 20, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window = window
        self.clock = clock
        self.failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        stamps = self.failures.get(key, deque())
        while stamps and self.clock() - stamps[0] > self.window:
            stamps.popleft()
        return stamps

    def wait(self, keys: Iterable[tuple[str, str]]) -> float:
        """Seconds until a sign-in under these keys is heard again; 0 when it is heard now."""
        waits = [self.window - (self.clock() - stamps[0]) for key in keys
                 if len(stamps := self._recent(key)) >= self.limits[key[0]]]
        return max(waits, default=0.0)

    def failed(self, keys: Iterable[tuple[str, str]]) -> None:
        if len(self.failures) > 10_000:  # many names tried: forget those whose window has passed
            self.failures = {k: v for k, v in self.failures.items() if self._recent(k)}
        for key in keys:
            self.failures[key] = self._recent(key)
            self.failures[key].append(self.clock())

    def succeeded(self, name: str) -> None:
        self.failures.pop(("account", name), None)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


class Gate:
    """The ASGI middleware: finds the session, refuses what its role may not do, checks the CSRF token of every
    change, and logs each request with who made it."""

    def __init__(self, app: ASGIApp, accounts: Accounts, guard: FormGuard, policy: SignInPolicy) -> None:
        self.app = app
        self.accounts = accounts
        self.guard = guard
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path, method = request.url.path, request.method
        if path.startswith(OPEN_PATHS) or not await run_in_threadpool(self.accounts.count):
            await self.app(scope, receive, send)
            return
        session = await run_in_threadpool(self._session, request.cookies.get(COOKIE, ""))
        refusal: Response | None = None
        role = required_role(method, path)
        if session is None:
            refusal = _refuse(request, 401, "请先登录", "登录后才能查看本页。")
        elif not session.account.may(role):
            refusal = _refuse(request, 403, "权限不足", f"本操作需要“{ROLE_LABELS[role]}”及以上角色；"
                              f"您的角色是“{ROLE_LABELS[session.account.role]}”。请联系管理员。")
        elif method not in SAFE_METHODS:
            token, receive = await _csrf_token(request, receive)
            if not self.guard.check_session(token, session.id):
                refusal = _refuse(request, 403, "无法提交", "表单校验失败：页面可能是在重新登录前打开的，"
                                  "或请求并非来自本系统。请刷新页面后重新提交。")
        who = session.account.name if session else "-"
        if refusal is not None:
            await refusal(scope, receive, send)
            self._log(who, method, path, refusal.status_code, _client(scope), audit=session is not None)
            return
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        assert session is not None
        marker = _signed_in.set((session.account, self.guard.session_token(session.id)))
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            _signed_in.reset(marker)
            self._log(who, method, path, status, _client(scope), audit=method not in SAFE_METHODS)

    def _session(self, cookie: str) -> Session | None:
        session_id = self.guard.unsign(cookie)
        return self.accounts.session(session_id, self.policy.idle, self.policy.lifetime) if session_id else None

    def _log(self, who: str, method: str, path: str, status: int, address: str, audit: bool) -> None:
        # The refreshes a page makes every few seconds would drown the log: API reads are debug.
        quiet = method in SAFE_METHODS and path.startswith("/api/") and status < 400
        log.log(logging.DEBUG if quiet else logging.INFO, "%s %s %s %s from %s", who, method, path, status, address)
        if audit or status in (401, 403):
            self.accounts.record(who, "denied" if status in (401, 403) else "change", f"{method} {path} {status}",
                                 address)


async def _csrf_token(request: Request, receive: Receive) -> tuple[str, Receive]:
    """The request's session CSRF token (header, or the form's field) and a `receive` that still gives the body."""
    if token := request.headers.get(CSRF_HEADER):
        return token, receive
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return "", receive
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_BODY:
            return "", receive
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()  # a disconnect, as the server reports it
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    fields = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return fields.get(CSRF_FIELD, ""), replay


def _refuse(request: Request, status: int, heading: str, message: str) -> Response:
    if request.url.path.startswith("/api/") or request.method not in SAFE_METHODS and status == 401:
        return JSONResponse({"error": message}, status_code=status)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>{heading}</title><h1>{heading}</h1>"
                        f"<p>{message}</p><p><a href=\"/\">返回总览</a></p>", status_code=status)


def _local(target: str) -> str:
    """Where to go after signing in: a path of this site only (never //other.example or an address)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def auth_routes(accounts: Accounts, templates: Environment, guard: FormGuard, policy: SignInPolicy,
                configuration: Callable[[], dict[str, Any]] = dict, throttle: Throttle | None = None) -> list[Route]:
    throttle = throttle or Throttle()
    templates.globals.update(signed_in=signed_in, session_csrf=lambda: (_signed_in.get() or (None, ""))[1],
                             role_labels=ROLE_LABELS)
    templates.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "indent": 2}

    def cookie(response: Response, request: Request, name: str, value: str, max_age: int | None, path: str = "/",
               same_site: str = "lax") -> None:
        response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite=same_site,
                            secure=policy.secure_cookie or request.url.scheme == "https")

    def login_page(request: Request, status: int = 200, message: str = "", name: str = "",
                   nonce: str | None = None, next_page: str | None = None) -> Response:
        # The browser's nonce while it has one: a second tab's form does not spoil the first's.
        nonce = nonce or request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        next_page = _local(request.query_params.get("next", "/") if next_page is None else next_page)
        response = HTMLResponse(templates.get_template("login.html").render(
            token=guard.session_token(nonce), next=next_page, message=message, name=name), status_code=status)
        cookie(response, request, LOGIN_COOKIE, nonce, 3600, path="/login", same_site="strict")
        return response

    async def login(request: Request) -> Response:
        if not await run_in_threadpool(accounts.count):
            return RedirectResponse("/", status_code=303)  # open: nothing to sign in to
        if request.method == "GET":
            return login_page(request)
        address = _client(request.scope)
        try:
            form = await read_form(request)
        except FormError as exc:
            return login_page(request, 400, str(exc))
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not (nonce and guard.check_session(form.get("csrf", ""), nonce)):
            return login_page(request, 403, "登录表单已失效，请重新输入。")
        name, password = form.get("name", "").strip(), form.get("password", "")
        keys = [("account", name), ("address", address)]
        if wait := throttle.wait(keys):
            accounts.record(name or "-", "login-throttled", "", address)
            log.warning("sign-in as %r from %s refused: too many failures", name, address)
            response = login_page(request, 429, f"登录失败次数过多，请 {int(wait // 60) + 1} 分钟后再试。", name, nonce)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        account = await run_in_threadpool(accounts.verify, name, password)
        if account is None:
            throttle.failed(keys)
            accounts.record(name or "-", "login-failed", "", address)
            log.warning("sign-in as %r from %s failed", name, address)
            return login_page(request, 401, "用户名或密码错误。", name, nonce, form.get("next", "/"))
        throttle.succeeded(name)
        session_id = await run_in_threadpool(accounts.open_session, account)
        accounts.record(name, "login", account.role, address)
        log.info("%s signed in from %s", name, address)
        response = RedirectResponse(_local(form.get("next", "/")), status_code=303)
        cookie(response, request, COOKIE, guard.sign(session_id), None)  # a browser session's cookie; the server ends it
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(request: Request) -> Response:
        session_id = guard.unsign(request.cookies.get(COOKIE, ""))
        if session_id and (account := signed_in()):
            await run_in_threadpool(accounts.end_session, session_id)
            accounts.record(account.name, "logout", "", _client(request.scope))
            log.info("%s signed out", account.name)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response

    def admin_page(status: int = 200, message: str = "", done: str = "") -> Response:
        return HTMLResponse(templates.get_template("admin.html").render(
            accounts=accounts.listing(), trail=accounts.trail(100), roles=ROLES, configuration=configuration(),
            message=message, done=DONE.get(done, "")), status_code=status)

    def admin(request: Request) -> Response:
        return admin_page(done=request.query_params.get("done", ""))

    def change(me: Account, form: dict[str, str]) -> str:
        action, name, role, password = (form.get(k, "").strip() for k in ("action", "name", "role", "password"))
        if name == me.name and action in ("role", "remove"):  # the last admin would lock everyone out
            raise AccountError("own account", "不能修改自己的角色或删除自己的账号；请另一位管理员操作。")
        if action == "add":
            accounts.add(name, role, password, by=me.name)
        elif action == "role":
            accounts.set_role(name, role, by=me.name)
        elif action == "passwd":
            accounts.set_password(name, password, by=me.name)
        elif action == "remove":
            accounts.remove(name, by=me.name)
        else:
            raise AccountError("unknown action", f"未知操作“{action}”。")
        return action

    async def admin_change(request: Request) -> Response:
        me = signed_in()
        assert me is not None  # the gate let an admin's change through, no one else's
        try:
            form = await read_form(request)
            done = await run_in_threadpool(change, me, form)
        except (FormError, AccountError) as exc:
            return admin_page(400, getattr(exc, "zh", str(exc)))
        return RedirectResponse(f"/admin?done={done}", status_code=303)

    return [Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout, methods=["POST"]),
            Route("/admin", admin), Route("/admin/accounts", admin_change, methods=["POST"])]

