"""A real SMTP server (aiosmtpd) that keeps every message it receives as an .eml file."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from models import now


class _SaveHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received: list[Path] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            stamp = now().strftime("%Y%m%d-%H%M%S")
            path = self.folder / f"{stamp}-{len(self.received) + 1:03d}.eml"
            path.write_bytes(envelope.original_content or envelope.content)  # type: ignore[arg-type]
            self.received.append(path)
        return "250 Message accepted for delivery"


class MailSink:
    """`with MailSink(folder) as sink:` listens on 127.0.0.1:sink.port until the block ends."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.handler = _SaveHandler(Path(folder))
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=port or _free_port())

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def received(self) -> list[Path]:
        return list(self.handler.received)

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.received]  # type: ignore[misc]

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
