"""Notifiers deliver alerts over one channel, a round at a time. Email is the first; webhooks follow."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol


class ChannelDown(Exception):
    """The channel itself failed (unreachable, timed out, refused the login): nothing more goes through it
    this round."""


class Session(Protocol):
    def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
        """Return once the far end has accepted the alert. Raise ChannelDown when the channel failed, anything
        else when only this alert did; the outbox retries both."""


class Notifier(Protocol):
    channel: str

    def session(self) -> AbstractContextManager[Session]:
        """One round of deliveries: a connection opened at the first send, closed when the round ends."""
