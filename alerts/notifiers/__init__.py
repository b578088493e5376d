"""Notifiers deliver one alert to its recipients over one channel. Email is the first; webhooks follow."""

from __future__ import annotations

from typing import Any, Protocol


class Notifier(Protocol):
    channel: str

    def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
        """Deliver or raise; the outbox retries what raises."""
