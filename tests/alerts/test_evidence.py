"""Evidence: a real HTTP(S) server on 127.0.0.1 that knows exactly which bytes it received and sent; the WARC the
locker writes is read back with warcio's ArchiveIterator and compared with them."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import ipaddress
import json
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from warcio.archiveiterator import ArchiveIterator

import settings as config
from alerts.evidence import EvidenceLocker, EvidenceQueue
from models import Post

GBK_PAGE = "<html><head><meta charset=gbk><title>北辰燃料乙醇偷排</title></head><body>河水发黑，岸边有死鱼。</body></html>"
GBK_BODY = GBK_PAGE.encode("gbk")


def head(status: str, *headers: str) -> bytes:
    return ("HTTP/1.1 " + status + "\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode("latin-1")


class Site(socketserver.ThreadingTCPServer):
    """Answers by path with raw bytes; keeps every request received and every response byte sent."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        self.received: dict[str, bytes] = {}
        self._sent: dict[str, bytes] = {}
        self._answered: dict[str, threading.Event] = {}
        self.closing = threading.Event()
        self.answers: dict[str, Callable[[Callable[[bytes], None]], None]] = {}

    def sent(self, path: str) -> bytes:
        """Every byte sent for `path`, once its answer is over: the client can have read the last byte before the
        server's thread notes it."""
        assert self._answered[path].wait(5), f"{path} was never answered"
        return self._sent[path]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.BaseRequestHandler):
    server: Site

    def handle(self) -> None:
        sock = self.request
        if self.server.tls:
            try:
                sock = self.server.tls.wrap_socket(sock, server_side=True)
            except OSError:
                return  # a client that does not trust the certificate
        request = b""
        while b"\r\n\r\n" not in request and (data := sock.recv(4096)):
            request += data
        path = request.split(b" ", 2)[1].decode()
        self.server.received[path] = request
        self.server._sent[path] = b""
        answered = self.server._answered.setdefault(path, threading.Event())

        def send(data: bytes) -> None:
            sock.sendall(data)
            self.server._sent[path] += data

        try:
            self.server.answers[path](send)
        except OSError:
            pass  # the client cut the exchange: what was sent before is on record
        finally:
            sock.close()
            answered.set()


def answers(site: Site) -> None:
    def gbk(send: Callable[[bytes], None]) -> None:
        # "X-Odd:value" without a space, kept as sent: the WARC holds the bytes, not a re-written head
        send(head("200 OK", "Content-Type: text/html; charset=gbk", f"Content-Length: {len(GBK_BODY)}",
                  "X-Odd:value") + GBK_BODY)

    def gone(status: str) -> Callable[[Callable[[bytes], None]], None]:
        return lambda send: send(head(status, "Content-Type: text/html; charset=utf-8", "Content-Length: 12")
                                 + b"post deleted")

    def hang(send: Callable[[bytes], None]) -> None:
        site.closing.wait(30)

    def trickle(send: Callable[[bytes], None]) -> None:  # each byte well within a socket timeout
        send(head("200 OK", "Content-Type: text/plain", "Content-Length: 1000"))
        for _ in range(1000):
            if site.closing.wait(0.05):
                return
            send(b"x")

    def huge(send: Callable[[bytes], None]) -> None:
        send(head("200 OK", "Content-Type: text/plain", f"Content-Length: {10 * 1024 * 1024}"))
        for _ in range(160):
            send(b"y" * 65536)

    def huge_chunked(send: Callable[[bytes], None]) -> None:
        send(head("200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked"))
        for _ in range(100):
            send(b"8000\r\n" + b"z" * 0x8000 + b"\r\n")
        send(b"0\r\n\r\n")

    def chunked(send: Callable[[bytes], None]) -> None:
        send(head("200 OK", "Content-Type: text/plain; charset=utf-8", "Transfer-Encoding: chunked")
             + b"6\r\n\xe5\x8c\x97\xe8\xbe\xb0\r\n3\r\n\xe5\x8e\x82\r\n0\r\n\r\n")

    site.answers.update({
        "/gbk.html": gbk, "/gone": gone("404 Not Found"), "/gone410": gone("410 Gone"), "/hang": hang,
        "/trickle": trickle, "/huge": huge, "/huge-chunked": huge_chunked, "/chunked": chunked,
        "/moved": lambda send: send(head("302 Found", "Location: /gbk.html", "Content-Length: 0")),
        "/loop": lambda send: send(head("301 Moved Permanently", "Location: /loop", "Content-Length: 0")),
        "/elsewhere": lambda send: send(head("302 Found", "Location: file:///etc/passwd", "Content-Length: 0")),
        "/short": lambda send: send(head("200 OK", "Content-Length: 100") + b"0123456789"),
    })


def serve(site: Site) -> Iterator[Site]:
    answers(site)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.closing.set()
    site.shutdown()
    site.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    yield from serve(Site())


@pytest.fixture
def locker(tmp_path: Path) -> EvidenceLocker:
    return EvidenceLocker(tmp_path / "evidence", timeout=5, max_bytes=64 * 1024)


def records(path: Path) -> list:
    """(type, target, WARC headers, HTTP head bytes, body bytes as recorded) of each record, digests checked."""
    out = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            http_head = record.http_headers.to_bytes() if record.http_headers else b""
            out.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), record.rec_headers,
                        http_head, record.raw_stream.read()))
    return out


def meta(locker: EvidenceLocker, alert_id: int) -> dict:
    return json.loads((locker.root / str(alert_id) / "meta.json").read_text(encoding="utf-8"))


def test_a_gbk_page_is_saved_byte_for_byte(site: Site, locker: EvidenceLocker) -> None:
    url = site.url + "/gbk.html"
    evidence = locker.capture(7, url, "北辰燃料乙醇偷排", "河水发黑，岸边有死鱼。")
    assert (evidence.status, evidence.error, evidence.truncated) == (200, None, False)
    warc = locker.root / "7" / "page.warc.gz"
    kinds = records(warc)
    assert [(k, u) for k, u, *_ in kinds] == [("warcinfo", None), ("response", url), ("request", url)]
    _, _, response_headers, response_head, body = kinds[1]
    _, _, request_headers, _, request_body = kinds[2]
    assert body == GBK_BODY
    assert response_head.startswith(b"HTTP/1.1 200 OK") and b"charset=gbk" in response_head
    assert response_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert request_body == b""
    # The exact bytes, head included, as they crossed the wire both ways.
    raw = gzip.decompress(warc.read_bytes())
    assert site.sent("/gbk.html") in raw and b"X-Odd:value\r\n" in raw
    assert site.received["/gbk.html"] in raw
    saved = meta(locker, 7)
    assert saved["sha256"] == hashlib.sha256(GBK_BODY).hexdigest() == evidence.sha256
    assert (saved["url"], saved["status"], saved["size"], saved["truncated"]) == (url, 200, len(GBK_BODY), False)
    assert saved["content_type"] == "text/html; charset=gbk"
    assert dt.datetime.fromisoformat(saved["fetched_at"]).utcoffset() == dt.timedelta(hours=8)
    assert (locker.root / "7" / "text.txt").read_text(encoding="utf-8") == "北辰燃料乙醇偷排\n\n河水发黑，岸边有死鱼。\n"
    assert [name for name, _ in locker.files(7)] == ["page.warc.gz", "text.txt", "meta.json"]
    assert not list((locker.root / "7").glob("*.part"))


@pytest.mark.parametrize("path, status", [("/gone", 404), ("/gone410", 410)])
def test_a_deleted_post_answer_is_evidence_too(site: Site, locker: EvidenceLocker, path: str, status: int) -> None:
    evidence = locker.capture(1, site.url + path, "t", "x")
    assert (evidence.status, evidence.error) == (status, None)
    _, _, _, head_bytes, body = records(locker.root / "1" / "page.warc.gz")[1]
    assert head_bytes.startswith(f"HTTP/1.1 {status}".encode()) and body == b"post deleted"
    assert meta(locker, 1)["status"] == status


def test_chunked_framing_is_kept_and_the_digest_is_of_the_body(site: Site, locker: EvidenceLocker) -> None:
    evidence = locker.capture(2, site.url + "/chunked", "t", "x")
    assert evidence.sha256 == hashlib.sha256("北辰厂".encode()).hexdigest() and evidence.size == 9
    body = records(locker.root / "2" / "page.warc.gz")[1][4]
    assert body == site.sent("/chunked").split(b"\r\n\r\n", 1)[1]


def test_a_server_that_never_answers_is_cut_at_the_timeout(site: Site, tmp_path: Path) -> None:
    locker = EvidenceLocker(tmp_path, timeout=1)
    started = time.monotonic()
    evidence = locker.capture(3, site.url + "/hang", "标题", "正文")
    assert time.monotonic() - started < 3
    assert evidence.error == "timed out after 1s" and evidence.status is None and evidence.sha256 is None
    kinds = records(tmp_path / "3" / "page.warc.gz")
    assert [k for k, *_ in kinds] == ["warcinfo", "request"]  # the request alone shows what was tried
    assert meta(locker, 3)["error"] == "timed out after 1s"
    assert (tmp_path / "3" / "text.txt").read_text(encoding="utf-8") == "标题\n\n正文\n"


def test_a_trickling_server_is_cut_at_the_deadline_of_the_whole_fetch(site: Site, tmp_path: Path) -> None:
    locker = EvidenceLocker(tmp_path, timeout=1)
    started = time.monotonic()
    evidence = locker.capture(4, site.url + "/trickle", "t", "x")
    assert time.monotonic() - started < 3  # the server would take 50 s, each byte well inside a socket timeout
    assert evidence.error == "timed out after 1s" and evidence.status == 200 and 0 < evidence.size < 1000
    kind, _, warc_headers, _, body = records(tmp_path / "4" / "page.warc.gz")[1]
    assert kind == "response" and warc_headers.get_header("WARC-Truncated") == "time"
    assert body == b"x" * evidence.size


@pytest.mark.parametrize("path, byte", [("/huge", b"y"), ("/huge-chunked", b"z")])
def test_a_huge_body_is_cut_at_the_cap(site: Site, locker: EvidenceLocker, path: str, byte: bytes) -> None:
    evidence = locker.capture(5, site.url + path, "t", "x")
    assert (evidence.status, evidence.error, evidence.truncated, evidence.size) == (200, None, True, 64 * 1024)
    _, _, warc_headers, _, body = records(locker.root / "5" / "page.warc.gz")[1]
    assert warc_headers.get_header("WARC-Truncated") == "length"
    assert body.replace(b"8000\r\n", b"").replace(b"\r\n", b"").startswith(byte * 64 * 1024)
    assert len(body) < 2 * 64 * 1024
    saved = meta(locker, 5)
    assert (saved["truncated"], saved["size"], saved["max_bytes"]) == (True, 64 * 1024, 64 * 1024)
    assert saved["sha256"] == hashlib.sha256(byte * 64 * 1024).hexdigest()


def test_a_body_exactly_at_the_cap_is_whole(site: Site, tmp_path: Path) -> None:
    evidence = EvidenceLocker(tmp_path, timeout=5, max_bytes=len(GBK_BODY)).capture(6, site.url + "/gbk.html", "", "")
    assert (evidence.truncated, evidence.size) == (False, len(GBK_BODY))


def test_a_connection_closed_early_keeps_what_came(site: Site, locker: EvidenceLocker) -> None:
    evidence = locker.capture(8, site.url + "/short", "t", "x")
    assert evidence.error == "the server closed the connection after 10 bytes of the body"
    _, _, warc_headers, _, body = records(locker.root / "8" / "page.warc.gz")[1]
    assert warc_headers.get_header("WARC-Truncated") == "disconnect" and body == b"0123456789"


def test_redirects_are_followed_and_every_hop_recorded(site: Site, locker: EvidenceLocker) -> None:
    evidence = locker.capture(9, site.url + "/moved", "t", "x")
    assert (evidence.status, evidence.final_url, evidence.error) == (200, site.url + "/gbk.html", None)
    targets = [(k, u) for k, u, *_ in records(locker.root / "9" / "page.warc.gz")][1:]
    assert targets == [("response", site.url + "/moved"), ("request", site.url + "/moved"),
                       ("response", site.url + "/gbk.html"), ("request", site.url + "/gbk.html")]
    assert meta(locker, 9)["final_url"] == site.url + "/gbk.html"


def test_redirect_loops_and_other_schemes_stop(site: Site, locker: EvidenceLocker) -> None:
    looped = locker.capture(10, site.url + "/loop", "t", "x")
    assert looped.error == "more than 5 redirects; the last is saved" and looped.status == 301
    assert len(records(locker.root / "10" / "page.warc.gz")) == 1 + 2 * 6
    elsewhere = locker.capture(11, site.url + "/elsewhere", "t", "x")
    assert elsewhere.error == "redirected to 'file:///etc/passwd', not an http(s) address; not followed"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "weibo:12345", "",
                                 "http://exa mple.com/"])
def test_only_http_addresses_are_fetched(locker: EvidenceLocker, url: str) -> None:
    evidence = locker.capture(12, url, "标题", "正文")
    assert evidence.error == "not an http(s) address; nothing was fetched" and evidence.status is None
    assert [name for name, _ in locker.files(12)] == ["text.txt", "meta.json"]
    assert meta(locker, 12)["url"] == url


def test_a_refused_connection_is_noted(tmp_path: Path) -> None:
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as closed:
        port = closed.server_address[1]
    evidence = EvidenceLocker(tmp_path, timeout=2).capture(13, f"http://127.0.0.1:{port}/p", "t", "x")
    assert evidence.error == "connection refused"
    assert meta(EvidenceLocker(tmp_path, 2), 13)["error"] == "connection refused"


def test_alert_ids_name_folders_and_nothing_else(locker: EvidenceLocker) -> None:
    for bad in ("../x", -1, True, 1.5):
        with pytest.raises(ValueError):
            locker.files(bad)  # type: ignore[arg-type]
    assert locker.files(99) == []


# ---- HTTPS ----
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    today = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(today - dt.timedelta(days=1))
            .not_valid_after(today + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    cert_file, key_file = certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    for site in serve(Site(tls=context)):
        yield site, cert_file


def test_an_https_page_is_recorded_as_well(tls_site: tuple[Site, Path], tmp_path: Path) -> None:
    site, cert_file = tls_site
    trusted = ssl.create_default_context(cafile=str(cert_file))
    locker = EvidenceLocker(tmp_path / "e", timeout=5, ssl_context=trusted)
    evidence = locker.capture(20, site.url + "/gbk.html", "t", "x")
    assert (evidence.status, evidence.error) == (200, None)
    kinds = records(tmp_path / "e" / "20" / "page.warc.gz")
    assert [(k, u) for k, u, *_ in kinds][1:] == [("response", site.url + "/gbk.html"),
                                                  ("request", site.url + "/gbk.html")]
    assert kinds[1][4] == GBK_BODY
    assert site.sent("/gbk.html") in gzip.decompress((tmp_path / "e" / "20" / "page.warc.gz").read_bytes())


def test_an_untrusted_certificate_is_refused_by_default(tls_site: tuple[Site, Path], tmp_path: Path) -> None:
    site, _ = tls_site
    evidence = EvidenceLocker(tmp_path, timeout=5).capture(21, site.url + "/gbk.html", "t", "x")
    assert evidence.error is not None and evidence.error.startswith("TLS certificate not accepted")
    assert evidence.status is None


# ---- the queue ----
def post(n: int, url: str) -> Post:
    return Post(id=f"forum:{n}", platform="forum", source="s", url=url, title=f"标题{n}", content=f"正文{n}")


def test_the_queue_captures_on_its_own_thread(site: Site, locker: EvidenceLocker) -> None:
    evidence = EvidenceQueue(locker)
    evidence.start()
    assert evidence.submit(1, post(1, site.url + "/gbk.html"))
    assert evidence.submit(2, post(2, site.url + "/gone"))
    deadline = time.monotonic() + 10
    while not (locker.root / "2" / "meta.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    evidence.stop()
    assert meta(locker, 1)["status"] == 200 and meta(locker, 2)["status"] == 404
    assert (locker.root / "2" / "text.txt").read_text(encoding="utf-8") == "标题2\n\n正文2\n"


def test_submitting_never_waits_and_nothing_is_lost_silently(site: Site, tmp_path: Path) -> None:
    locker = EvidenceLocker(tmp_path, timeout=2)
    evidence = EvidenceQueue(locker, size=1)
    evidence.start()
    assert evidence.submit(1, post(1, site.url + "/hang"))
    deadline = time.monotonic() + 5
    while "/hang" not in site.received and time.monotonic() < deadline:  # the thread is on it
        time.sleep(0.02)
    started = time.monotonic()
    assert evidence.submit(2, post(2, site.url + "/gbk.html"))
    assert not evidence.submit(3, post(3, site.url + "/gbk.html"))  # full: refused at once, its text kept
    assert time.monotonic() - started < 0.5
    assert meta(locker, 3)["error"] == "not fetched: 1 captures were waiting"
    evidence.stop()  # waits for the hanging fetch (2 s), notes what still waited
    assert meta(locker, 1)["error"] == "timed out after 2s"
    assert meta(locker, 2)["error"] == "not fetched: the service stopped before its turn"
    assert (tmp_path / "2" / "text.txt").read_text(encoding="utf-8") == "标题2\n\n正文2\n"
    assert "/gbk.html" not in site.received


def test_settings_turn_it_on_and_off(tmp_path: Path) -> None:
    on = config.Settings(store={"path": tmp_path}, alerts={"evidence_max_bytes": 4096, "evidence_timeout": "5s"})
    queue = EvidenceQueue.for_settings(on)
    assert queue is not None
    assert (queue.locker.root, queue.locker.max_bytes, queue.locker.timeout) == (tmp_path / "evidence", 4096, 5.0)
    assert EvidenceQueue.for_settings(config.Settings(store={"path": tmp_path}, alerts={"evidence": False})) is None
    with pytest.raises(ValueError):
        config.Settings(alerts={"evidence_max_bytes": 10})


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/p", "http://[::1/p", "http:///p"])
def test_an_address_that_cannot_be_fetched_is_noted(locker: EvidenceLocker, url: str) -> None:
    evidence = locker.capture(14, url, "t", "x")
    assert evidence.error is not None and evidence.error.startswith("not a valid address")
    assert meta(locker, 14)["error"] == evidence.error
