"""Signed action links: they expire, cannot be altered, and the secret behind them is kept safe and kept."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alerts.tokens import SECRET_FILE, SecretError, Signer, TokenError, load_secret, _b64, _unb64
from models import SHANGHAI

T0 = datetime(2024, 3, 5, 14, 44, tzinfo=SHANGHAI)
SIGNER = Signer(b"k" * 32, "http://yuqing.example.com:8000", ttl=7 * 86400)


def test_a_token_grants_what_it_was_signed_for_until_it_expires() -> None:
    token = SIGNER.token(7, "ack", "张三@example.com", T0)
    grant = SIGNER.verify(token, T0 + timedelta(days=6, hours=23))
    assert (grant.alert_id, grant.action, grant.who) == (7, "ack", "张三@example.com")
    assert grant.expires_at == T0 + timedelta(days=7)
    with pytest.raises(TokenError, match="过期"):
        SIGNER.verify(token, T0 + timedelta(days=7))


def test_links() -> None:
    url = SIGNER.url(7, "resolve", "a@example.com", T0)
    assert url.startswith("http://yuqing.example.com:8000/alerts/7/act?t=")
    assert SIGNER.verify(url.split("?t=")[1], T0).action == "resolve"
    assert SIGNER.page_url(7) == "http://yuqing.example.com:8000/alerts/7"


def _reworded(token: str, change: dict[int, object]) -> str:
    import json

    body, signature = token.split(".")
    fields = json.loads(_unb64(body))
    for index, value in change.items():
        fields[index] = value
    return f"{_b64(json.dumps(fields, ensure_ascii=False).encode())}.{signature}"


@pytest.mark.parametrize("tamper", [
    lambda t: _reworded(t, {1: "resolve"}),  # another action
    lambda t: _reworded(t, {0: 8}),  # another alert
    lambda t: _reworded(t, {2: "mallory@example.com"}),  # someone else
    lambda t: _reworded(t, {3: 4_000_000_000}),  # a later expiry
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # a changed signature
    lambda t: t.split(".")[0],  # no signature
    lambda t: "",
    lambda t: "汉字.汉字",
])
def test_an_altered_token_is_refused(tamper) -> None:  # noqa: ANN001
    with pytest.raises(TokenError, match="无效"):
        SIGNER.verify(tamper(SIGNER.token(7, "ack", "a@example.com", T0)), T0)


def test_another_secret_or_an_unknown_action_is_refused() -> None:
    token = SIGNER.token(7, "ack", "a@example.com", T0)
    with pytest.raises(TokenError):
        Signer(b"x" * 32, "http://yuqing.example.com:8000/", 3600).verify(token, T0)
    with pytest.raises(ValueError, match="no action 'delete'"):
        SIGNER.token(7, "delete", "a@example.com", T0)


def test_the_secret_is_made_once_private_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "var"
    secret = load_secret("", data)
    path = data / SECRET_FILE
    assert len(secret) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret("", data) == secret  # kept: links already sent still work after a restart
    assert [p.name for p in data.iterdir()] == [SECRET_FILE]  # no draft left behind
    token = Signer(secret, "http://h/", 3600).token(1, "ack", "a", T0)
    assert Signer(load_secret("", data), "http://h/", 3600).verify(token, T0).alert_id == 1
    assert load_secret("configured-secret-value", data) == b"configured-secret-value"


def test_a_damaged_secret_file_is_named(tmp_path: Path) -> None:
    load_secret("", tmp_path)
    os.truncate(tmp_path / SECRET_FILE, 0)
    with pytest.raises(SecretError, match=f"{SECRET_FILE} is damaged"):
        load_secret("", tmp_path)
