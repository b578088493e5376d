"""Downloader middlewares: read pages in the right encoding, and notice when a site stops serving us."""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlsplit

import scrapy
from charset_normalizer import from_bytes
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.statscollectors import StatsCollector
from twisted.internet import defer
from twisted.internet import error as net_error
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, resolve_encoding

from crawlers import breakage

log = logging.getLogger(__name__)

# A page may hold a stray undecodable byte (a truncated last character); a wrong declaration gives many.
_BAD_SHARE = 0.001


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        return False
    return text.count("\ufffd") <= max(2, len(text) * _BAD_SHARE)


def decoded(response: HtmlResponse) -> HtmlResponse:
    """The response, read in the encoding its bytes are really in.

    Chinese sites often declare no encoding, or the wrong one (a GBK page served as UTF-8): trust the
    HTTP header, then the meta tag, only while the body decodes with them; otherwise detect it.
    """
    body = response.body
    if not body:
        return response
    declared = (http_content_type_encoding(response.headers.get("Content-Type", b"").decode("latin-1"))
                or html_body_declared_encoding(body[:4096]))
    if _decodes(body, resolve_encoding(declared or "utf-8") or "utf-8"):
        return response
    best = from_bytes(body[:200_000]).best()
    # GBK and GB2312 are subsets of GB18030, Big5 of Big5-HKSCS: resolve to the superset, which loses nothing.
    encoding = resolve_encoding(best.encoding if best else "gb18030") or "gb18030"
    if declared:
        log.warning("%s: declares %s but is %s", response.url, declared, encoding)
    return response.replace(encoding=encoding)


class EncodingFallbackMiddleware:
    """Every HTML page through `decoded`, so spiders never read mojibake."""

    def process_response(self, request: scrapy.Request, response: Response) -> Response:
        return decoded(response) if isinstance(response, HtmlResponse) else response


class BreakageMiddleware:
    """Classify what went wrong with each response (see crawlers.breakage) into the crawler stats.

    A captcha page or a redirect to a login or visitor check is dropped, so spiders never parse it as
    content. A 429 (or 503) with Retry-After holds back that domain's next requests, retries included,
    for as long as the site asks, up to YUQING_RETRY_AFTER_MAX seconds. Must sit above RedirectMiddleware
    (600) to see redirects, and above RetryMiddleware (550) so that the retry waits too.
    """

    def __init__(self, stats: StatsCollector | None, max_wait: float, default_wait: float) -> None:
        self.stats = stats
        self.max_wait = max_wait
        self.default_wait = default_wait
        self._not_before: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BreakageMiddleware:
        settings = crawler.settings
        return cls(crawler.stats, settings.getfloat("YUQING_RETRY_AFTER_MAX", 120.0),
                   settings.getfloat("YUQING_RETRY_AFTER_DEFAULT", 10.0))

    async def process_request(self, request: scrapy.Request) -> None:
        wait = self._not_before.get(urlsplit(request.url).netloc, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def process_response(self, request: scrapy.Request, response: Response) -> Response:
        location = response.headers.get("Location")
        if 300 <= response.status < 400 and location:
            target = response.urljoin(location.decode("latin-1"))
            if error_class := breakage.url_class(target):
                self._drop(error_class, request.url, f"redirected to {target}")
        if request.meta.get("redirect_urls") and (error_class := breakage.url_class(response.url)):
            self._drop(error_class, request.meta["redirect_urls"][0], f"redirected to {response.url}")
        if error_class := breakage.status_class(response.status):
            breakage.record(self.stats, error_class, request.url)
            if response.status in (429, 503):
                self._hold_back(request.url, response)
            return response  # RetryMiddleware and HttpErrorMiddleware decide what happens next
        if isinstance(response, TextResponse) and breakage.is_captcha_page(response.text):
            self._drop(breakage.CAPTCHA, request.url, "answered with a captcha page")
        if 200 <= response.status < 300:
            breakage.answered(self.stats, response.url)
        return response

    def process_exception(self, request: scrapy.Request, exception: Exception) -> None:
        if isinstance(exception, IgnoreRequest):
            return
        timed_out = isinstance(exception, DownloadTimeoutError | net_error.TimeoutError | defer.TimeoutError | TimeoutError)
        breakage.record(self.stats, breakage.TIMEOUT if timed_out else breakage.NETWORK, request.url)

    def _hold_back(self, url: str, response: Response) -> None:
        asked = breakage.retry_after(response.headers.get("Retry-After"), time.time())
        wait = asked if asked is not None else (self.default_wait if response.status == 429 else None)
        if wait is None:
            return
        wait = min(wait, self.max_wait)
        domain = urlsplit(url).netloc
        self._not_before[domain] = max(self._not_before.get(domain, 0.0), time.monotonic() + wait)
        log.warning("%s: HTTP %d; holding back requests to %s for %.0fs", url, response.status, domain, wait)

    def _drop(self, error_class: str, url: str, why: str) -> None:
        breakage.record(self.stats, error_class, url)
        log.warning("%s: %s (%s)", url, why, error_class)
        raise IgnoreRequest(f"{error_class}: {url} {why}")
