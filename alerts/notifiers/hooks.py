"""What the robot and webhook notifiers share: one connection pool per delivery round, the platform's pace,
and the verdict on each answer: accepted, refused (this message alone), or the channel down (ChannelDown)."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import urllib3

import settings as config
from alerts.notifiers import ChannelDown

JSON = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "yuqing-alerts"}
# Answers that say the far end cannot take anything now, whatever the message: back off, all of the batch.
_DOWN = {408, 429}


class Refused(Exception):
    """The far end refused this message alone; the next one may well pass."""


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any        # the JSON the far end answered, None if it was not JSON
    text: str        # its start, for error messages


def platform_code(answer: Answer, platform: str, codes: tuple[str, ...], messages: tuple[str, ...]) -> tuple[int, str]:
    """The code in a robot's JSON answer (the first of `codes` present) and a line that says it. An answer without
    one is not the platform's (a wrong address, a proxy's page): every message would meet it, so ChannelDown."""
    data = answer.data if isinstance(answer.data, dict) else {}
    code = next((data[key] for key in codes if isinstance(data.get(key), int)), None)
    if code is None:
        raise ChannelDown(f"HTTP {answer.status}, not a {platform} answer: {answer.text}")
    said = next((str(data[key]) for key in messages if data.get(key)), "")
    return code, f"{platform} {codes[0]} {code}: {said}"


def body(value: dict[str, Any]) -> bytes:
    """JSON as sent, and as measured against a platform's limit: UTF-8, Chinese as itself (3 bytes, not 6)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to its query string (form-encoded), keeping what it had (access_token …)."""
    if not params:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query, keep_blank_values=True),
                                                      *params.items()])))


class Pace:
    """Keeps a robot under its platform's documented rate, so that it is never silenced for going over (DingTalk
    throttles a robot for ten minutes). A wait of a second or less is waited out; a longer one is left to the
    outbox's backoff, as ChannelDown, without sending."""

    LONGEST_WAIT = 1.0

    def __init__(self, limits: tuple[tuple[int, float], ...]) -> None:
        self.limits = limits
        self.sent: deque[float] = deque(maxlen=max((count for count, _ in limits), default=0))

    def take(self) -> None:
        for count, seconds in self.limits:
            if len(self.sent) < count:
                continue
            wait = self.sent[-count] + seconds - time.monotonic()
            if wait > self.LONGEST_WAIT:
                raise ChannelDown(f"held back: the platform takes {count} messages in {seconds:g}s from one robot; "
                                  f"the next may go in {wait:.0f}s")
            if wait > 0:
                time.sleep(wait)
        self.sent.append(time.monotonic())


class HookNotifier:
    """A channel that POSTs one JSON request per alert. Subclasses say how a request is worded and signed
    (`request`) and what an answer means (`verdict`: return if accepted, raise Refused or ChannelDown)."""

    limits: tuple[tuple[int, float], ...] = ()  # (messages, seconds) the platform takes from one robot

    def __init__(self, settings: config.Channel, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.channel = settings.name
        self.clock = clock  # signatures carry the time: tests set it back to see a stale one refused
        self.pace = Pace(self.limits)

    def request(self, alert: dict[str, Any]) -> Request:
        raise NotImplementedError

    def verdict(self, answer: Answer) -> None:
        raise NotImplementedError

    @contextmanager
    def session(self) -> Iterator[_Session]:
        timeout = urllib3.Timeout(connect=self.settings.timeout, read=self.settings.timeout)
        pool = urllib3.PoolManager(timeout=timeout, retries=False)  # retries are the outbox's, with backoff
        try:
            yield _Session(self, pool)
        finally:
            pool.clear()


class _Session:
    def __init__(self, notifier: HookNotifier, pool: urllib3.PoolManager) -> None:
        self.notifier = notifier
        self.pool = pool

    def send(self, alert: dict[str, Any], recipients: list[str]) -> None:
        """Chat robots post to their group: `recipients` (mail addresses) do not apply."""
        try:
            request = self.notifier.request(alert)
        except ValueError as exc:  # it cannot be worded within the platform's limits: this alert alone
            raise Refused(str(exc)) from None
        self.notifier.pace.take()
        try:
            response = self.pool.request("POST", request.url, body=request.body, headers=request.headers,
                                         redirect=False)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # urllib3 names the host, never the path or query that carry a robot's key.
            raise ChannelDown(f"{type(exc).__name__}: {exc}") from None
        try:
            data = json.loads(response.data)
        except ValueError:
            data = None
        answer = Answer(response.status, data, response.data[:200].decode("utf-8", "replace"))
        if response.status in _DOWN or response.status >= 500:
            raise ChannelDown(f"HTTP {answer.status}: {answer.text}")
        self.notifier.verdict(answer)
