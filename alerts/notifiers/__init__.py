"""Notifiers deliver alerts over one channel, a round at a time: email, and the chat robots (DingTalk, WeCom,
Feishu) and generic JSON webhooks named under [[alerts.channels]]."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import settings as config
    from alerts.tokens import Signer


class ChannelDown(Exception):
    """The channel itself failed (unreachable, timed out, refused the login, rate-limited): nothing more goes
    through it this round."""


class Session(Protocol):
    def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
        """Return once the far end has accepted the alert. Raise ChannelDown when the channel failed, anything
        else when only this alert did; the outbox retries both."""


class Notifier(Protocol):
    channel: str

    def session(self) -> AbstractContextManager[Session]:
        """One round of deliveries: a connection opened at the first send, closed when the round ends."""


def build_notifiers(settings: config.Settings, signer: Signer | None = None) -> list[Notifier]:
    """One notifier per channel a rule may name: "email" (its links signed by `signer`), and each of
    [[alerts.channels]] under its own name."""
    # Imported here: each of these modules imports ChannelDown from this one.
    from alerts.notifiers.dingtalk import DingTalkNotifier
    from alerts.notifiers.email import EmailNotifier
    from alerts.notifiers.feishu import FeishuNotifier
    from alerts.notifiers.webhook import WebhookNotifier
    from alerts.notifiers.wecom import WeComNotifier

    kinds = {"dingtalk": DingTalkNotifier, "wecom": WeComNotifier, "feishu": FeishuNotifier,
             "webhook": WebhookNotifier}
    return [EmailNotifier(settings.smtp, signer), *(kinds[channel.type](channel) for channel in settings.alerts.channels)]
