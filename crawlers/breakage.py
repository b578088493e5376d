"""What a broken crawl looks like, by URL, status and page content; and how it is counted.

Sites rarely fail loudly: they answer 200 with a captcha, or redirect to a login or visitor-verification
page. These rules are generic (no spider's knowledge needed), so every spider is watched the same way.
Each finding is counted in the crawler stats as `yuqing/error/<class>`; `crawlers.run` reports them.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

# Error classes, most telling first: the first one a crawl met is its error class.
CAPTCHA = "captcha"
LOGIN = "login"
FORBIDDEN = "forbidden"
RATE_LIMITED = "rate_limited"
PARSE = "parse"
TIMEOUT = "timeout"
NETWORK = "network"
SERVER_ERROR = "server_error"
CLASSES = (CAPTCHA, LOGIN, FORBIDDEN, RATE_LIMITED, PARSE, TIMEOUT, NETWORK, SERVER_ERROR)
BLOCKING = frozenset({CAPTCHA, LOGIN, FORBIDDEN, RATE_LIMITED})

STAT = "yuqing/error/"
STAT_URL = "yuqing/error_url/"
STAT_PAGE = "yuqing/page_url"

# Where sites send a crawler they do not trust: captcha walls first, then login / visitor checks.
_CAPTCHA_URL = re.compile(
    r"wappass\.baidu\.com|/antispider|/account/unhuman|/captcha|/verify(?:code)?(?:[/?.]|$)|/sec(?:urity)?check",
    re.IGNORECASE,
)
_LOGIN_URL = re.compile(
    r"passport\.weibo\.(?:com|cn)|/visitor/|/(?:log-?in|signin|sign_in|passport|sso)(?:[/?.#]|$)",
    re.IGNORECASE,
)
_TITLE = re.compile(r"<title[^>]*>(.{0,300}?)</title>", re.IGNORECASE | re.DOTALL)
_CAPTCHA_TITLE = re.compile(
    r"安全验证|验证码|人机验证|访问验证|异常访问|访问过于频繁|Just a moment|Attention Required|Verify you are human|captcha",
    re.IGNORECASE,
)
_CAPTCHA_MARKUP = re.compile(
    r"g-recaptcha|h-captcha|geetest|tcaptcha|cf-challenge|nc_1_wrapper|captcha\.(?:js|php|gif|jpe?g|png)"
    r"|id=[\"']?(?:captcha|seccode)|name=[\"']?(?:captcha|seccode)",
    re.IGNORECASE,
)
_TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.IGNORECASE | re.DOTALL)
# A captcha wall carries a sentence or two; an article that merely mentions 验证码 carries much more.
_WALL_TEXT_MAX = 1500
_HEAD = 64 * 1024


def url_class(url: str) -> str | None:
    """Captcha or login class of a URL a redirect led to; None for an ordinary URL."""
    if _CAPTCHA_URL.search(url):
        return CAPTCHA
    if _LOGIN_URL.search(url):
        return LOGIN
    return None


def status_class(status: int) -> str | None:
    if status in (403, 418):
        return FORBIDDEN
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return SERVER_ERROR
    return None


def is_captcha_page(html: str) -> bool:
    """A page whose title or markup is a captcha's, with little text of its own."""
    head = html[:_HEAD]
    title = _TITLE.search(head)
    if not (title and _CAPTCHA_TITLE.search(title.group(1))) and not _CAPTCHA_MARKUP.search(head):
        return False
    return len("".join(_TAGS.sub(" ", html[: _HEAD * 4]).split())) < _WALL_TEXT_MAX


def content_kind(response: Response) -> str | None:
    """"json" or "html" (any other text) for what a response holds, by its Content-Type and its first character
    (APIs often send JSON as text/html); None for a body that is not text (an image, a download)."""
    text = getattr(response, "text", None)  # only TextResponse decodes its body
    if text is None:
        return None
    declared = response.headers.get("Content-Type", b"").decode("latin-1").lower()
    return "json" if "json" in declared or text.lstrip()[:1] in ("{", "[") else "html"


def retry_after(value: bytes | str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None when unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError):
        return None


def record(stats: StatsCollector | None, error_class: str, url: str) -> None:
    """Count one finding; the first URL of each class is kept as the example to show."""
    if stats is None:
        return
    stats.inc_value(STAT + error_class)
    if stats.get_value(STAT_URL + error_class) is None:
        stats.set_value(STAT_URL + error_class, url)


def answered(stats: StatsCollector | None, url: str) -> None:
    """Note the first page that answered 2xx: where a changed layout shows when a crawl then yields nothing."""
    if stats is not None and stats.get_value(STAT_PAGE) is None and not url.endswith("/robots.txt"):
        stats.set_value(STAT_PAGE, url)


def unexpected_type(response: Any, expected: str) -> str | None:
    """What a response is, when it is not what the spider reads: `expected` "html" (a page) or "json" (an API's
    answer); None when it is. A site that answers with JSON, an image or a download where a page was is a
    `parse` breakage with the URL, never a crash in the spider."""
    got = content_kind(response)
    if got == expected:
        return None
    declared = response.headers.get("Content-Type", b"").decode("latin-1") or "no Content-Type"
    wanted = "an HTML page" if expected == "html" else "JSON"
    return f"expected {wanted}, got {got or 'a binary body'} ({declared})"


def summary(stats: dict[str, Any]) -> dict[str, Any]:
    """The crawl's error class (the most telling one met), counts by class, an example URL, and the first page
    that answered."""
    counts = {c: int(stats[STAT + c]) for c in CLASSES if stats.get(STAT + c)}
    first = next(iter(counts), None)
    return {"error_class": first, "errors_by_class": counts,
            "error_url": stats.get(STAT_URL + first) if first else None, "page_url": stats.get(STAT_PAGE)}
