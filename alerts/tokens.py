"""Signed action links: a link in an officer's mail lets that officer, and no one else, act on one alert
until the link expires. The token carries what it grants; an HMAC-SHA256 over it proves yuqing wrote it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import settings as config
from alerts.labels import ACTION_LABELS
from models import SHANGHAI

SECRET_FILE = "alerts.secret"
_MIN_SECRET = 16  # bytes


class TokenError(ValueError):
    """The link cannot be used; the message says why, for the person who opened it."""


class SecretError(Exception):
    """The kept secret cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Grant:
    alert_id: int
    action: str
    who: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: bytes, base_url: str, ttl: float) -> None:
        if len(secret) < _MIN_SECRET:
            raise ValueError(f"the link secret must be at least {_MIN_SECRET} bytes")
        self.secret = secret
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.ttl = ttl

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self.secret, body.encode("ascii"), hashlib.sha256).digest())

    def token(self, alert_id: int, action: str, who: str, at: datetime) -> str:
        if action not in ACTION_LABELS:
            raise ValueError(f"no action {action!r}; actions: {', '.join(ACTION_LABELS)}")
        expires = int((at + timedelta(seconds=self.ttl)).timestamp())
        body = _b64(json.dumps([alert_id, action, who, expires], ensure_ascii=False).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, at: datetime) -> Grant:
        body, _, signature = token.partition(".")
        try:
            good = hmac.compare_digest(self._sign(body), signature)
        except (UnicodeEncodeError, TypeError):
            good = False
        if not body or not good:
            raise TokenError("这个链接无效（签名不符），请从预警邮件或预警页面重新打开")
        alert_id, action, who, expires = json.loads(_unb64(body))
        if action not in ACTION_LABELS:
            raise TokenError(f"这个链接的操作 {action!r} 不存在")
        expires_at = datetime.fromtimestamp(expires, SHANGHAI)
        if at >= expires_at:
            raise TokenError(f"这个链接已于 {expires_at:%Y-%m-%d %H:%M} 过期，请在预警页面操作")
        return Grant(int(alert_id), action, str(who), expires_at)

    def url(self, alert_id: int, action: str, who: str, at: datetime) -> str:
        return f"{self.base_url}alerts/{alert_id}/act?t={self.token(alert_id, action, who, at)}"

    def page_url(self, alert_id: int) -> str:
        return f"{self.base_url}alerts/{alert_id}"

    @classmethod
    def from_settings(cls, settings: config.Settings) -> Signer:
        """Links to the dashboard, signed with `[alerts] secret` or the secret kept beside the store."""
        return cls(load_secret(settings.alerts.secret, settings.data_dir),
                   settings.alerts.dashboard_url or settings.dashboard.url, settings.alerts.link_ttl)


def load_secret(configured: str, data_dir: Path) -> bytes:
    """`[alerts] secret` if set; else the one kept in <data_dir>/alerts.secret, made (mode 0600) the first time."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: a crash or a second process never leaves
        # a half-written secret, and the first process to link wins.
        draft = data_dir / f".{SECRET_FILE}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    secret = path.read_text(encoding="ascii", errors="replace").strip().encode("ascii", errors="replace")
    if len(secret) < _MIN_SECRET:
        raise SecretError(f"{path} is damaged (shorter than {_MIN_SECRET} characters); delete it and yuqing makes "
                         f"a new one (links in mail already sent then stop working), or set [alerts] secret")
    return secret
