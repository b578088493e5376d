"""Evidence of what an alert is about: the post's page as its server answered when the alert opened.

Posts are edited, hidden or deleted once they draw attention; the officer who must answer one needs what it said
and proof that it was there. Each alert gets a folder `<root>/<alert_id>/` with

- `page.warc.gz`: the HTTP request and the response (every redirect too), byte for byte as they crossed the wire,
  as WARC records (warcio). A 404 or 410 is kept as well: it shows the post was taken down;
- `text.txt`: the title and the text as the store holds them, whether or not the page could be fetched;
- `meta.json`: the address, when it was fetched, the status, the body's size and SHA-256, and the error if any.

A fetch is bounded by a deadline for the whole exchange (a server that trickles bytes cannot hold it) and by a
size cap (the body is cut there, and the WARC record says `WARC-Truncated: length`). Only http(s) addresses are
fetched. `EvidenceQueue` runs captures on a thread of its own, so a slow site never holds up alerting or mail.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import logging
import os
import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, Any
from urllib.parse import quote, urljoin, urlsplit

from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.warcwriter import WARCWriter

import settings as config
from models import Post, now, web_link

log = logging.getLogger(__name__)

WARC = "page.warc.gz"
TEXT = "text.txt"
META = "meta.json"
FILES = (WARC, TEXT, META)
MAX_BYTES = 20 * 1024 * 1024
REDIRECTS = 5
CHUNK = 64 * 1024
SPOOL = 1024 * 1024  # a response bigger than this waits on disk, not in memory, until it is written
QUEUE_SIZE = 100


@dataclass(frozen=True)
class Evidence:
    alert_id: int
    folder: Path
    url: str
    final_url: str | None     # after redirects
    fetched_at: datetime
    status: int | None        # of the last response; None when none came
    content_type: str | None
    size: int                 # body bytes kept
    sha256: str | None        # of the body bytes kept (None when no response came)
    truncated: bool           # the body went on past the size cap
    error: str | None

    def meta(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "url": self.url, "final_url": self.final_url,
                "fetched_at": self.fetched_at.isoformat(), "status": self.status, "content_type": self.content_type,
                "size": self.size, "sha256": self.sha256, "truncated": self.truncated, "error": self.error}


class _Verbatim(StatusAndHeaders):
    """An HTTP head that warcio writes back exactly as received; by itself it would write the parsed headers
    again, normalising spacing and percent-encoding what is not ASCII."""

    def __init__(self, raw: bytes) -> None:
        parsed = StatusAndHeadersParser([], verify=False).parse(BytesIO(raw))
        super().__init__(parsed.statusline, parsed.headers, parsed.protocol, total_len=len(raw))
        self.headers_buff = raw

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        pass  # headers_buff holds the bytes received


class _Tee:
    """The response stream as http.client reads it, copied to `sink` byte for byte (status line, headers,
    chunk framing and body; not what was only peeked at)."""

    def __init__(self, fp: Any, sink: IO[bytes]) -> None:
        self.fp = fp
        self.sink = sink

    def readline(self, limit: int = -1) -> bytes:
        data = self.fp.readline(limit)
        self.sink.write(data)
        return data

    def read(self, amt: int | None = None) -> bytes:
        data = self.fp.read(amt)
        self.sink.write(data)
        return data

    def read1(self, amt: int = -1) -> bytes:
        data = self.fp.read1(amt)
        self.sink.write(data)
        return data

    def readinto(self, buffer: Any) -> int:
        count = self.fp.readinto(buffer)
        self.sink.write(memoryview(buffer)[:count])
        return count

    def peek(self, amt: int = 0) -> bytes:
        return self.fp.peek(amt)

    def flush(self) -> None:
        self.fp.flush()

    def close(self) -> None:
        self.fp.close()


class _TeeResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, sink: IO[bytes], **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = _Tee(self.fp, sink)  # type: ignore[assignment]


class _Recording(http.client.HTTPConnection):
    """A connection that keeps what it sent and what it received, and its socket for the deadline to cut."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = bytearray()
        self.received: IO[bytes] = SpooledTemporaryFile(SPOOL)  # noqa: SIM115 - closed in _Exchange.close
        self.response_class = functools.partial(_TeeResponse, sink=self.received)  # type: ignore[assignment]
        self.wire: socket.socket | None = None
        self.cut = False  # by the deadline

    def connect(self) -> None:
        super().connect()
        self.wire = self.sock

    def send(self, data: Any) -> None:
        super().send(data)
        self.sent += data


class _RecordingHTTPS(_Recording, http.client.HTTPSConnection):
    pass


def _cut(connection: _Recording) -> None:
    """The deadline: shut the socket, so that a read blocked on it returns at once."""
    connection.cut = True
    if connection.wire is not None:
        try:
            socket.socket.shutdown(connection.wire, socket.SHUT_RDWR)  # the plain socket's, also under TLS
        except OSError:
            pass


def _target(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host (IDNA), port and the request target, percent-encoded where the address is not ASCII."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise ValueError("no host name")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return parts.scheme.lower(), host, parts.port, path


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"


class _Exchange:
    """One request and its response, fetched under a deadline, then written as WARC records."""

    def __init__(self, url: str, max_bytes: int) -> None:
        self.url = url
        self.max_bytes = max_bytes
        self.status: int | None = None
        self.content_type: str | None = None
        self.location: str | None = None
        self.size = 0
        self.sha256: str | None = None
        self.truncated: str | None = None  # WARC-Truncated's reason: length, time or disconnect
        self.error: str | None = None
        self.address: str | None = None
        self.head = 0  # length of the response's status line and headers; 0 while they have not all come
        self.connection: _Recording | None = None

    def fetch(self, deadline: float, timeout: float, context: ssl.SSLContext | None) -> None:
        try:
            scheme, host, port, path = _target(self.url)
        except ValueError as exc:  # a port out of range, a host name IDNA cannot write
            self.error = f"not a valid address: {exc}"
            return
        left = max(deadline - time.monotonic(), 0.001)
        if scheme == "https":
            connection: _Recording = _RecordingHTTPS(host, port, timeout=left, context=context)
        else:
            connection = _Recording(host, port, timeout=left)
        self.connection = connection
        watchdog = threading.Timer(left, _cut, [connection])
        watchdog.daemon = True
        watchdog.start()
        digest = hashlib.sha256()
        try:
            self._exchange(connection, path, digest)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            late = connection.cut or isinstance(exc, TimeoutError)
            if late:
                self.error = f"timed out after {timeout:g}s"
            elif isinstance(exc, http.client.IncompleteRead):
                self.error = f"the server closed the connection after {self.size} bytes of the body"
            else:
                self.error = _describe(exc)
            if self.head:
                self.truncated = "time" if late else "disconnect"
        finally:
            watchdog.cancel()
            connection.close()
        if self.head:
            self.sha256 = digest.hexdigest()

    def _exchange(self, connection: _Recording, path: str, digest: Any) -> None:
        connection.connect()
        self.address = connection.wire.getpeername()[0] if connection.wire else None
        connection.request("GET", path, headers={
            "User-Agent": config.USER_AGENT, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
            "Accept-Encoding": "identity", "Connection": "close"})
        response = connection.getresponse()
        self.head = connection.received.tell()
        self.status = response.status
        self.content_type = response.getheader("Content-Type")
        self.location = response.getheader("Location")
        while self.size < self.max_bytes and (data := response.read(min(CHUNK, self.max_bytes - self.size))):
            digest.update(data)
            self.size += len(data)
        if connection.cut:  # http.client reads a shut socket as the end of the body
            raise TimeoutError
        if self.size >= self.max_bytes and _more(response):
            self.truncated = "length"
        elif response.length:  # fewer bytes than Content-Length said, which http.client lets pass
            raise http.client.IncompleteRead(b"", response.length)

    def write(self, writer: WARCWriter) -> None:
        if self.connection is None or not self.connection.sent:  # not even connected: meta.json tells why
            return
        extra = {"WARC-IP-Address": self.address} if self.address else {}
        request = writer.create_warc_record(self.url, "request", payload=BytesIO(), length=0,
                                            http_headers=_Verbatim(bytes(self.connection.sent)),
                                            warc_headers_dict=dict(extra))
        if not self.head:  # no whole response head came: the request alone shows what was tried
            writer.write_record(request)
            return
        received = self.connection.received
        length = received.tell()
        received.seek(0)
        head = _Verbatim(received.read(self.head))
        if self.truncated:
            extra["WARC-Truncated"] = self.truncated
        response = writer.create_warc_record(self.url, "response", payload=received, length=length - self.head,
                                             http_headers=head, warc_headers_dict=extra)
        writer.write_request_response_pair(request, response)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.received.close()


def _more(response: http.client.HTTPResponse) -> bool:
    """Whether the body goes on past what was read."""
    if response.isclosed():
        return False
    if response.length is not None:
        return response.length > 0
    return bool(response.peek(1))


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (the dashboard) see the old file or the new one, never half of one."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


class EvidenceLocker:
    def __init__(self, root: Path, timeout: float, max_bytes: int = MAX_BYTES,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.root = Path(root)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ssl_context = ssl_context  # None: the system's certificate authorities, verified

    @classmethod
    def for_settings(cls, settings: config.Settings) -> EvidenceLocker:
        return cls(settings.data_dir / "evidence", settings.alerts.evidence_timeout,
                   settings.alerts.evidence_max_bytes)

    def folder(self, alert_id: int) -> Path:
        if isinstance(alert_id, bool) or not isinstance(alert_id, int) or alert_id < 0:
            raise ValueError(f"an alert id is a whole number, not {alert_id!r}")
        return self.root / str(alert_id)

    def files(self, alert_id: int) -> list[tuple[str, Path]]:
        folder = self.folder(alert_id)
        return [(name, folder / name) for name in FILES if (folder / name).is_file()]

    def capture(self, alert_id: int, url: str, title: str, text: str) -> Evidence:
        """Fetch the page now and save it with the text; never raises for what the site or network does."""
        folder = self.folder(alert_id)
        folder.mkdir(parents=True, exist_ok=True)
        fetched_at = now()
        _write_atomically(folder / TEXT, f"{title}\n\n{text}\n".encode())
        if web_link(url) is None:
            last, error = None, "not an http(s) address; nothing was fetched"
        else:
            last, error = self._fetch(url, folder / WARC)
        evidence = Evidence(
            alert_id=alert_id, folder=folder, url=url, final_url=last.url if last else None, fetched_at=fetched_at,
            status=last.status if last else None, content_type=last.content_type if last else None,
            size=last.size if last else 0, sha256=last.sha256 if last else None,
            truncated=bool(last and last.truncated == "length"), error=error)
        self._write_meta(evidence)
        return evidence

    def record_failure(self, alert_id: int, url: str, title: str, text: str, error: str) -> Evidence:
        """Save the text and a note of why the page was not fetched."""
        folder = self.folder(alert_id)
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / TEXT, f"{title}\n\n{text}\n".encode())
        evidence = Evidence(alert_id, folder, url, None, now(), None, None, 0, None, False, error)
        self._write_meta(evidence)
        return evidence

    def _write_meta(self, evidence: Evidence) -> None:
        meta = json.dumps({**evidence.meta(), "max_bytes": self.max_bytes}, ensure_ascii=False, indent=2)
        _write_atomically(evidence.folder / META, meta.encode())

    def _fetch(self, url: str, path: Path) -> tuple[_Exchange | None, str | None]:
        """Follow up to REDIRECTS redirects, every exchange recorded; the last exchange and the error if any."""
        deadline = time.monotonic() + self.timeout
        partial = path.with_name(path.name + ".part")
        last: _Exchange | None = None
        error: str | None = None
        with partial.open("wb") as out:  # a crash leaves a .part file, never a half page.warc.gz
            writer = WARCWriter(out, gzip=True, warc_version="1.1")
            writer.write_record(writer.create_warcinfo_record(WARC, {
                "software": "yuqing", "format": "WARC File Format 1.1",
                "description": "the page of an alerting post, fetched when the alert opened"}))
            for _ in range(REDIRECTS + 1):
                exchange = _Exchange(url, self.max_bytes)
                try:
                    exchange.fetch(deadline, self.timeout, self.ssl_context)
                    exchange.write(writer)
                finally:
                    exchange.close()
                last, error = exchange, exchange.error
                if error or exchange.status not in (301, 302, 303, 307, 308) or not exchange.location:
                    break
                try:
                    url = urljoin(url, exchange.location)
                except ValueError:
                    url = exchange.location  # the next exchange says why it cannot be read
                if web_link(url) is None:
                    error = f"redirected to {url!r}, not an http(s) address; not followed"
                    break
            else:
                error = f"more than {REDIRECTS} redirects; the last is saved"
        os.replace(partial, path)
        return last, error


class EvidenceQueue:
    """Captures evidence on a thread of its own, one page at a time, from a bounded queue: submitting never
    waits. When the queue is full, or the service stops before a page's turn, the text and a note are saved."""

    def __init__(self, locker: EvidenceLocker, size: int = QUEUE_SIZE) -> None:
        self.locker = locker
        self._queue: queue.Queue[tuple[int, Post] | None] = queue.Queue(size)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @classmethod
    def for_settings(cls, settings: config.Settings) -> EvidenceQueue | None:
        """None when `[alerts] evidence` is off."""
        return cls(EvidenceLocker.for_settings(settings)) if settings.alerts.evidence else None

    def submit(self, alert_id: int, post: Post) -> bool:
        """Queue the capture of an alert's post; False (and its text saved) when the queue is full."""
        try:
            self._queue.put_nowait((alert_id, post))
            return True
        except queue.Full:
            log.warning("evidence queue full; alert %d's page is not fetched, its text is saved", alert_id)
            self._skip(alert_id, post, f"not fetched: {self._queue.maxsize} captures were waiting")
            return False

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="evidence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finishes the capture under way; pages still waiting get their text and a note, not a fetch."""
        self._stopping.set()
        if self._thread is not None:
            self._queue.put(None)  # after what waits: the thread notes each of those, then ends
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            alert_id, post = item
            if self._stopping.is_set():
                self._skip(alert_id, post, "not fetched: the service stopped before its turn")
                continue
            try:
                evidence = self.locker.capture(alert_id, post.url, post.title, post.content)
                log.info("evidence of alert %d: %s %s", alert_id, evidence.status, evidence.error or "saved")
            except Exception:
                log.exception("evidence of alert %d could not be saved", alert_id)

    def _skip(self, alert_id: int, post: Post, error: str) -> None:
        try:
            self.locker.record_failure(alert_id, post.url, post.title, post.content, error)
        except OSError:
            log.exception("evidence note of alert %d could not be saved", alert_id)
