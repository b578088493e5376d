"""Sign-in over the alert pages as the service wires them: roles, CSRF, cookies, expiry, throttling, the trail."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update
from starlette.testclient import TestClient

import settings as config
from alerts.statement import StatementWriter
from alerts.evidence import EvidenceLocker
from dashboards.web.accounts import Accounts, sessions
from dashboards.web.app import create_app
from dashboards.web.auth import COOKIE, SignInPolicy, Throttle, exposure_error
from models import now
from tests.dashboards.conftest import HOSTS, Desk, parse
from yuqing.service import alert_desk

PASSWORD = "correct horse battery"
FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)  # argon2id still, cheap enough for many logins
ROLES = ("viewer", "analyst", "officer", "admin")


@dataclass
class Site:
    desk: Desk
    accounts: Accounts
    app: Any

    def client(self, https: bool = False) -> TestClient:
        return TestClient(self.app, base_url=f"http{'s' if https else ''}://127.0.0.1", follow_redirects=False)

    def signed_in(self, name: str, https: bool = False) -> TestClient:
        client = self.client(https)
        response = sign_in(client, name, PASSWORD)
        assert response.status_code == 303, response.text
        return client


def sign_in(client: TestClient, name: str, password: str, next_page: str = "/") -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post("/login", data={"csrf": token.group(1), "name": name, "password": password, "next": next_page})


def build(desk: Desk, accounts: Accounts, policy: SignInPolicy = SignInPolicy(),
          settings: config.Settings | None = None) -> Any:
    return create_app(desk.store, desk.state.recent_alerts, parse, allowed_hosts=HOSTS, accounts=accounts,
                      sign_in=policy, configuration=lambda: config.masked(settings or config.Settings()),
                      **alert_desk(desk.state, desk.signer, StatementWriter(desk.store),
                                   EvidenceLocker(desk.evidence, timeout=5).files))


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[Accounts]:
    kept = Accounts(tmp_path / "data" / "accounts.db", hasher=FAST)
    yield kept
    kept.close()


@pytest.fixture
def site(desk: Desk, accounts: Accounts) -> Site:
    for role in ROLES:
        accounts.add(role, role, PASSWORD, by="test")
    return Site(desk, accounts, build(desk, accounts))


def _page_tokens(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf|session_csrf)" value="([^"]+)"', page))


def _act(client: TestClient, alert_id: int, **fields: str) -> Any:
    return client.post(f"/alerts/{alert_id}/act", data={"action": "ack", "note": "", "assignee": "", **fields})


# ---- open, and closed ----
def test_without_accounts_the_dashboard_is_open_as_before(desk: Desk, accounts: Accounts) -> None:
    client = TestClient(build(desk, accounts), base_url="http://127.0.0.1", follow_redirects=False)
    assert client.get("/").status_code == 200 and client.get("/api/summary").status_code == 200
    page = client.get(f"/alerts/{desk.alert_id}")
    assert page.status_code == 200 and 'id="who"' in page.text and "退出登录" not in page.text
    assert client.get("/login").headers["location"] == "/"
    assert _act(client, desk.alert_id, csrf=_page_tokens(page.text)["csrf"], who="张三").status_code == 303
    assert desk.state.get(desk.alert_id)["acknowledged_by"] == "张三"


def test_once_an_account_exists_every_page_asks_for_sign_in(site: Site) -> None:
    client = site.client()
    went = client.get(f"/alerts/{site.desk.alert_id}?x=1")
    assert went.status_code == 303 and went.headers["location"] == f"/login?next=%2Falerts%2F{site.desk.alert_id}%3Fx%3D1"
    for path in ("/api/summary", "/api/search?q=x", "/api/alerts"):
        answer = client.get(path)
        assert answer.status_code == 401 and "登录" in answer.json()["error"], path
    assert client.get("/").status_code == 303 and client.get("/admin").status_code == 303
    assert client.get("/healthz").status_code == 200 and client.get("/static/app.css").status_code == 200
    assert _act(client, site.desk.alert_id, who="x").status_code == 401
    assert site.desk.state.get(site.desk.alert_id)["state"] == "open"


def test_signing_in_goes_back_to_the_page_asked_for_and_only_to_this_site(site: Site) -> None:
    client = site.client()
    done = sign_in(client, "viewer", PASSWORD, next_page=f"/alerts/{site.desk.alert_id}")
    assert done.status_code == 303 and done.headers["location"] == f"/alerts/{site.desk.alert_id}"
    page = client.get(done.headers["location"])
    assert page.status_code == 200 and '<span id="signed-in-as">viewer（浏览）</span>' in page.text
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert sign_in(site.client(), "viewer", PASSWORD, next_page=elsewhere).headers["location"] == "/"


def test_a_wrong_password_or_name_is_refused_alike(site: Site) -> None:
    for name, password in (("viewer", "wrong password!"), ("nobody", PASSWORD)):
        client = site.client()
        answer = sign_in(client, name, password)
        assert answer.status_code == 401 and "用户名或密码错误" in answer.text
        assert COOKIE not in client.cookies and client.get("/").status_code == 303


def test_a_sign_in_form_from_another_page_is_refused(site: Site) -> None:
    client = site.client()
    client.get("/login")
    # A page elsewhere can fetch a form of its own, but not the nonce cookie this browser got with its form.
    other = site.client()
    token = re.search(r'name="csrf" value="([^"]+)"', other.get("/login").text)
    assert token
    answer = client.post("/login", data={"csrf": token.group(1), "name": "viewer", "password": PASSWORD})
    assert answer.status_code == 403 and COOKIE not in client.cookies


# ---- roles ----
GATES = [  # (method, path, the least role that may)
    ("GET", "/", "viewer"), ("GET", "/api/summary", "viewer"), ("GET", "/alerts", "viewer"),
    ("GET", "/api/alerts", "viewer"), ("GET", "/api/search?q=%E6%81%B6%E8%87%AD", "analyst"),
    ("GET", "/admin", "admin"), ("POST", "act", "officer"),
]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_does_what_it_may_and_nothing_more(site: Site, role: str) -> None:
    client = site.signed_in(role)
    for method, path, least in GATES:
        allowed = ROLES.index(role) >= ROLES.index(least)
        if method == "GET":
            status = client.get(path).status_code
            assert status == (200 if allowed else 403), (role, path, status)
        else:
            page = client.get(f"/alerts/{site.desk.alert_id}").text
            answer = _act(client, site.desk.alert_id, **_page_tokens(page))
            assert answer.status_code == (303 if allowed else 403), (role, answer.text)
            assert (site.desk.state.get(site.desk.alert_id)["state"] == "acknowledged") == allowed
    if role != "admin":
        assert "权限不足" in client.get("/admin").text


def test_an_officer_acts_under_the_signed_in_name_not_a_typed_one(site: Site) -> None:
    client = site.signed_in("officer")
    page = client.get(f"/alerts/{site.desk.alert_id}").text
    assert 'id="who"' not in page and '<strong id="acting-as">officer</strong>' in page
    assert _act(client, site.desk.alert_id, who="冒名者", **_page_tokens(page)).status_code == 303
    assert site.desk.state.get(site.desk.alert_id)["acknowledged_by"] == "officer"
    assert site.desk.state.history(site.desk.alert_id)[-1]["who"] == "officer"


def test_the_admin_page_lists_accounts_and_the_configuration_with_secrets_masked(desk: Desk,
                                                                               accounts: Accounts) -> None:
    accounts.add("root", "admin", PASSWORD, by="test")
    settings = config.Settings.model_validate({
        "alerts": {"secret": "link-secret-value-0123456789abcdef",
                   "channels": [{"name": "ops", "type": "wecom",
                                 "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-key-123"}]},
        "store": {"path": str(desk.evidence.parent)}, "smtp": {"password": "mail-password-42"}})
    client = TestClient(build(desk, accounts, settings=settings), base_url="http://127.0.0.1", follow_redirects=False)
    assert sign_in(client, "root", PASSWORD).status_code == 303
    page = client.get("/admin").text
    assert "root" in page and "管理（admin）" in page
    shown = page.split('id="configuration"')[1]
    assert "qyapi.weixin.qq.com" not in shown and "robot-key-123" not in shown
    assert "link-secret-value" not in shown and "mail-password-42" not in shown and shown.count("***") >= 3
    assert "evaluate_every" in shown  # the rest is there


# ---- CSRF ----
def test_a_change_without_the_sessions_token_is_refused(site: Site) -> None:
    officer, other = site.signed_in("officer"), site.signed_in("admin")
    page = officer.get(f"/alerts/{site.desk.alert_id}").text
    tokens = _page_tokens(page)
    stolen = _page_tokens(other.get(f"/alerts/{site.desk.alert_id}").text)["session_csrf"]
    for fields in ({"csrf": tokens["csrf"]}, {"csrf": tokens["csrf"], "session_csrf": stolen},
                   {"csrf": tokens["csrf"], "session_csrf": "0" * 64}):
        answer = _act(officer, site.desk.alert_id, **fields)
        assert answer.status_code == 403 and "表单校验失败" in answer.text
    assert site.desk.state.get(site.desk.alert_id)["state"] == "open"
    assert officer.post("/logout").status_code == 403  # signing out is a change too
    header = officer.post(f"/alerts/{site.desk.alert_id}/act", headers={"X-CSRF-Token": tokens["session_csrf"]},
                          data={"csrf": tokens["csrf"], "action": "ack"})
    assert header.status_code == 303 and site.desk.state.get(site.desk.alert_id)["state"] == "acknowledged"


# ---- cookies and sessions ----
def _set_cookie(response: Any, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


def test_the_session_cookie_is_http_only_lax_and_secure_over_https(desk: Desk, site: Site) -> None:
    plain = _set_cookie(sign_in(site.client(), "viewer", PASSWORD), COOKIE).lower()
    assert "httponly" in plain and "samesite=lax" in plain and "path=/" in plain
    assert "secure" not in plain and "max-age" not in plain  # over http a Secure cookie would never come back
    assert "secure" in _set_cookie(sign_in(site.client(https=True), "viewer", PASSWORD), COOKIE).lower()
    # Behind a TLS proxy that does not say so, the app sees http while the browser is on https and sends the
    # Secure cookies back: as the browser would, the test sends the form's nonce cookie back by hand.
    behind_proxy = TestClient(build(desk, site.accounts, SignInPolicy(secure_cookie=True)),
                              base_url="http://127.0.0.1", follow_redirects=False)
    form = behind_proxy.get("/login")
    nonce = _set_cookie(form, "yuqing_login")
    assert "secure" in nonce.lower()
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    behind_proxy.cookies.clear()
    done = behind_proxy.post("/login", headers={"Cookie": nonce.split(";")[0]},
                             data={"csrf": token.group(1), "name": "viewer", "password": PASSWORD})
    assert "secure" in _set_cookie(done, COOKIE).lower()
    nonce = _set_cookie(site.client().get("/login"), "yuqing_login").lower()
    assert "httponly" in nonce and "samesite=strict" in nonce and "path=/login" in nonce


def test_a_forged_or_altered_cookie_opens_nothing(site: Site) -> None:
    real = site.signed_in("admin").cookies[COOKIE]
    for forged in ("x", real[:-1] + ("0" if real[-1] != "0" else "1"), real.split(".")[0] + ".", "." + real):
        client = site.client()
        client.cookies.set(COOKIE, forged)
        assert client.get("/admin").status_code == 303, forged


def _age(accounts: Accounts, created: timedelta, seen: timedelta) -> None:
    with accounts.engine.begin() as conn:
        conn.execute(update(sessions).values(created_at=now() - created, seen_at=now() - seen))


def test_a_session_ends_when_idle_and_after_its_lifetime(desk: Desk, accounts: Accounts) -> None:
    accounts.add("officer", "officer", PASSWORD, by="test")
    app = build(desk, accounts, SignInPolicy(idle=600, lifetime=3600))
    client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    assert sign_in(client, "officer", PASSWORD).status_code == 303
    _age(accounts, created=timedelta(minutes=30), seen=timedelta(minutes=9))
    assert client.get("/alerts").status_code == 200  # used within the idle time: still on, and seen again now
    _age(accounts, created=timedelta(minutes=30), seen=timedelta(minutes=11))
    assert client.get("/alerts").status_code == 303
    assert sign_in(client, "officer", PASSWORD).status_code == 303
    _age(accounts, created=timedelta(minutes=61), seen=timedelta(seconds=1))  # in use all along, but too long
    assert client.get("/alerts").status_code == 303


def test_signing_out_ends_the_session_for_good(site: Site) -> None:
    client = site.signed_in("officer")
    cookie = client.cookies[COOKIE]
    token = _page_tokens(client.get("/alerts/1").text)["session_csrf"]
    out = client.post("/logout", data={"session_csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert 'yuqing_session=""' in _set_cookie(out, COOKIE) or "max-age=0" in _set_cookie(out, COOKIE).lower()
    replay = site.client()
    replay.cookies.set(COOKIE, cookie)  # a copy of the cookie taken before
    assert replay.get("/alerts").status_code == 303


def test_a_new_password_or_removal_ends_the_accounts_sessions(site: Site) -> None:
    officer, analyst = site.signed_in("officer"), site.signed_in("analyst")
    site.accounts.set_password("officer", "another long password", by="test")
    site.accounts.remove("analyst", by="test")
    assert officer.get("/alerts").status_code == 303 and analyst.get("/alerts").status_code == 303
    assert sign_in(site.client(), "officer", PASSWORD).status_code == 401
    assert sign_in(site.client(), "officer", "another long password").status_code == 303


# ---- throttling ----
def test_sign_in_is_throttled_per_account_and_per_address(site: Site) -> None:
    client = site.client()
    for _ in range(5):
        assert sign_in(client, "officer", "wrong password!").status_code == 401
    locked = sign_in(client, "officer", PASSWORD)  # the right password waits too: guessing must stop
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text and int(locked.headers["retry-after"]) > 800
    assert COOKIE not in client.cookies
    assert sign_in(site.client(), "viewer", PASSWORD).status_code == 303  # another account is not held up
    for n in range(15):  # names tried from one address
        assert sign_in(client, f"guess{n}", "wrong password!").status_code == 401
    assert sign_in(client, "admin", PASSWORD).status_code == 429
    assert ("login-throttled" in {e["action"] for e in site.accounts.trail()})


def test_the_throttle_forgets_failures_once_their_window_has_passed() -> None:
    clock = [1000.0]
    throttle = Throttle(per_account=2, per_address=5, window=60, clock=lambda: clock[0])
    keys = [("account", "a"), ("address", "10.0.0.1")]
    throttle.failed(keys)
    clock[0] += 30
    throttle.failed(keys)
    assert throttle.wait(keys) == pytest.approx(30)
    clock[0] += 31
    assert throttle.wait(keys) == 0
    throttle.failed(keys)
    throttle.succeeded("a")
    assert throttle.wait([("account", "a")]) == 0


# ---- the trail ----
def test_sign_ins_changes_and_refusals_are_logged_and_kept(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dashboards.web.access")
    sign_in(site.client(), "officer", "wrong password!")
    client = site.signed_in("officer")
    tokens = _page_tokens(client.get(f"/alerts/{site.desk.alert_id}").text)
    _act(client, site.desk.alert_id, **tokens)
    client.get("/admin")
    client.post("/logout", data={"session_csrf": tokens["session_csrf"]})
    trail = [(e["who"], e["action"], e["detail"]) for e in reversed(site.accounts.trail())]
    assert ("officer", "login-failed", "") in trail and ("officer", "login", "officer") in trail
    assert ("officer", "change", f"POST /alerts/{site.desk.alert_id}/act 303") in trail
    assert ("officer", "denied", "GET /admin 403") in trail and ("officer", "logout", "") in trail
    assert all(e["address"] for e in site.accounts.trail() if e["who"] == "officer")
    logged = caplog.text
    assert f"officer POST /alerts/{site.desk.alert_id}/act 303" in logged and "officer GET /admin 403" in logged


# ---- where it may listen ----
def test_a_non_loopback_address_needs_an_account(accounts: Accounts) -> None:
    assert exposure_error("127.0.0.1", accounts) is None and exposure_error("::1", accounts) is None
    assert exposure_error("localhost", accounts) is None
    problem = exposure_error("0.0.0.0", accounts)
    assert problem and "yuqing users add" in problem and "\n" not in problem
    accounts.add("root", "admin", PASSWORD, by="test")
    assert exposure_error("0.0.0.0", accounts) is None


def test_passwords_are_argon2id_hashes(tmp_path: Path) -> None:
    kept = Accounts(tmp_path / "accounts.db")
    try:
        kept.add("root", "admin", PASSWORD, by="test")
        with kept.engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT hash FROM accounts").scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert (tmp_path / "accounts.db").stat().st_mode & 0o077 == 0
    finally:
        kept.close()


def test_after_a_wrong_password_the_form_still_goes_back_to_the_page_asked_for(site: Site) -> None:
    client = site.client()
    failed = sign_in(client, "viewer", "wrong password!", next_page="/alerts")
    assert failed.status_code == 401 and 'name="next" value="/alerts"' in failed.text


def test_a_mailed_link_opened_signed_in_acts_under_the_account(site: Site) -> None:
    client = site.signed_in("officer")
    path = site.desk.signer.url(site.desk.alert_id, "assign", "王五", now()).removeprefix("http://127.0.0.1")
    page = client.get(path)
    assert page.status_code == 200 and "officer，您将对下面这条预警执行“<strong>指派</strong>”" in page.text
    done = client.post(f"/alerts/{site.desk.alert_id}/act", data={"t": path.split("t=", 1)[1], **_page_tokens(page.text)})
    assert done.status_code == 303
    alert = site.desk.state.get(site.desk.alert_id)
    assert alert["assignee"] == "officer" and site.desk.state.history(site.desk.alert_id)[-1]["who"] == "officer"
    viewer = site.signed_in("viewer")
    refused = viewer.post(f"/alerts/{site.desk.alert_id}/act",
                          data={"t": path.split("t=", 1)[1], **_page_tokens(viewer.get(path).text)})
    assert refused.status_code == 403  # a link in a forwarded mail gives a viewer no officer's rights


def test_an_admin_manages_accounts_on_the_admin_page(site: Site) -> None:
    admin = site.signed_in("admin")
    token = _page_tokens(admin.get("/admin").text)["session_csrf"]

    def change(**fields: str) -> Any:
        return admin.post("/admin/accounts", data={"session_csrf": token, **fields})

    added = change(action="add", name="王五", role="analyst", password="a long enough password")
    assert added.status_code == 303 and "已开设账号" in admin.get(added.headers["location"]).text
    assert site.accounts.get("王五") and site.accounts.get("王五").role == "analyst"
    assert change(action="role", name="王五", role="officer").status_code == 303
    assert site.accounts.get("王五").role == "officer"
    wang = site.signed_in("viewer")  # any session of the account being reset ends with it
    assert change(action="passwd", name="viewer", password="a new long password").status_code == 303
    assert wang.get("/alerts").status_code == 303
    assert change(action="remove", name="王五").status_code == 303 and site.accounts.get("王五") is None
    for fields, said in (({"action": "add", "name": "x", "role": "viewer", "password": "short"}, "密码太短"),
                         ({"action": "add", "name": "officer", "role": "viewer", "password": PASSWORD}, "已存在"),
                         ({"action": "remove", "name": "admin"}, "不能修改自己的角色或删除自己的账号"),
                         ({"action": "role", "name": "admin", "role": "viewer"}, "不能修改自己的角色"),
                         ({"action": "role", "name": "officer", "role": "root"}, "没有“root”这种角色")):
        refused = change(**fields)
        assert refused.status_code == 400 and said in refused.text, fields
    assert site.accounts.get("admin").role == "admin" and site.accounts.get("officer").role == "officer"
    actions = {(e["who"], e["action"]) for e in site.accounts.trail()}
    assert {("admin", "account-add"), ("admin", "account-role"), ("admin", "account-passwd"),
            ("admin", "account-remove")} <= actions
    officer = site.signed_in("officer")
    officer_token = _page_tokens(officer.get("/alerts").text)["session_csrf"]
    assert officer.post("/admin/accounts", data={"session_csrf": officer_token, "action": "add", "name": "y",
                                                 "role": "admin", "password": PASSWORD}).status_code == 403
    assert site.accounts.get("y") is None


def test_two_sign_in_forms_open_in_one_browser_both_post(site: Site) -> None:
    client = site.client()
    first, second = (re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text) for _ in range(2))
    assert first and second
    answer = client.post("/login", data={"csrf": first.group(1), "name": "viewer", "password": PASSWORD})
    assert answer.status_code == 303
