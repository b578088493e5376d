"""Cross-site request forgery protection for the dashboard's forms: a signed token in every form.

Why a token and not an Origin/Referer check: the dashboard sends `Referrer-Policy: no-referrer`, under which
browsers send no Referer and `Origin: null` with a form's POST, so those headers cannot tell our own form from
another site's. A page elsewhere cannot read ours (same-origin policy; the Host check stops DNS rebinding), so
it cannot learn a token. An alert's form token is stateless (no cookie, no session): an HMAC of the alert id
and the time the form was made, with a key the dashboard holds. Once accounts exist, every change also carries
the session's token (an HMAC of the session id), and the same key signs the session cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_AGE = 24 * 3600.0  # a page left open over a shift and a night still posts
MAX_BODY = 64 * 1024


class FormError(ValueError):
    """A form that cannot be accepted; the message is for the person who sent it."""


class FormGuard:
    def __init__(self, key: bytes | None = None, max_age: float = MAX_AGE) -> None:
        # Without a key of its own the guard makes one: forms made before a restart then ask to be reloaded.
        self.key = key or secrets.token_bytes(32)
        self.max_age = max_age

    def _mac(self, alert_id: int, issued: int) -> str:
        return hmac.new(self.key, f"form:{alert_id}:{issued}".encode(), hashlib.sha256).hexdigest()

    def issue(self, alert_id: int, at: float | None = None) -> str:
        issued = int(time.time() if at is None else at)
        return f"{issued}.{self._mac(alert_id, issued)}"

    def session_token(self, session_id: str) -> str:
        """The token a signed-in session's changes carry (bound to the session, so it dies with it)."""
        return hmac.new(self.key, f"session:{session_id}".encode(), hashlib.sha256).hexdigest()

    def check_session(self, token: str, session_id: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.session_token(session_id))

    def sign(self, value: str) -> str:
        return f"{value}.{hmac.new(self.key, f'cookie:{value}'.encode(), hashlib.sha256).hexdigest()}"

    def unsign(self, signed: str) -> str | None:
        """The value of a `sign`ed string, or None when it was not signed with this key."""
        value = signed.rpartition(".")[0]
        return value if value and hmac.compare_digest(signed, self.sign(value)) else None

    def check(self, token: str, alert_id: int, at: float | None = None) -> None:
        issued_text, _, mac = token.partition(".")
        if not (issued_text.isdigit() and hmac.compare_digest(mac, self._mac(alert_id, int(issued_text)))):
            raise FormError("表单校验失败：页面可能是在服务重启前打开的，或请求并非来自本系统的预警页面。"
                            "请刷新预警页面后重新提交。")
        if (time.time() if at is None else at) - int(issued_text) > self.max_age:
            raise FormError("表单已过期：页面打开已超过 24 小时。请刷新预警页面后重新提交。")


    async def read(self, request: Request, form_id: int | str) -> dict[str, str]:
        """The form posted with `request`, once its token shows it came from a page of ours for `form_id`."""
        form = await read_form(request)
        self.check(form.get("csrf", ""), form_id)
        return form

async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form body (what an HTML form posts), each field once, its last value winning."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise FormError("只接受网页表单提交的数据。")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise FormError("提交的内容过长。")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise FormError("提交的内容不是 UTF-8 文本。") from None
