"""One configuration for everything: typed yuqing settings, and Scrapy's settings module.

yuqing settings come from a TOML file (default `yuqing.toml`, or `$YUQING_CONFIG`) and from the
environment (`YUQING_*`, nested keys joined by `__`, e.g. `YUQING_SMTP__PASSWORD`); the environment
wins. `load()` turns every mistake into one `ConfigError` that names the key and the fix.

The upper-case names at the bottom are Scrapy's: scrapy.cfg points here, so `scrapy crawl rss -a
source=NAME` works with the same politeness defaults as the service.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

DEFAULT_CONFIG = "yuqing.toml"
ENV_PREFIX = "YUQING_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, None: 1}


class ConfigError(Exception):
    """A configuration mistake, phrased for the person who edits the file."""


def parse_duration(value: Any, allow_zero: bool = False) -> float:
    """Seconds from 90, "90", "90s", "15m", "2h", "7d", "1w"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 2h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration: write it like 30s, 15m, 2h or 7d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be more than zero")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _pem_file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError(f"{value}: no such file; name the PEM file of the certificate authority that signs the "
                         f"server's certificate")
    return value


PemFile = Annotated[Path, AfterValidator(_pem_file)]
Delay = Annotated[float, BeforeValidator(lambda value: parse_duration(value, allow_zero=True))]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Near(_Section):
    """Two terms that must stand close together: `吉林` within 10 characters of `燃料乙醇`."""

    terms: list[str] = Field(min_length=2, max_length=2)
    within: int = Field(default=10, ge=0, description="characters between the two terms, at most")


class Scheme(_Section):
    """A watch scheme (监测方案): which posts are about us."""

    name: str = Field(min_length=1)
    title: str = Field(default="", description="what people read for the scheme (北辰燃料乙醇); default its name")
    keywords: list[str] = Field(min_length=1, description="subject terms; a post must contain one")
    must: list[str] = Field(default_factory=list, description="every one of these must appear")
    any: list[str] = Field(default_factory=list, description="if given, one of these must appear too")
    exclude: list[str] = Field(default_factory=list, description="a post with any of these is not ours")
    near: list[Near] = Field(default_factory=list, description="each pair must appear close together")

    def terms(self) -> list[str]:
        return [*self.keywords, *self.must, *self.any]


class Source(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    type: Literal["rss", "site", "weibo", "baidu_news", "tieba", "wechat", "zhihu"]
    url: str = Field(default="", pattern=r"^(https?://.*)?$",
                     description="feed URL (rss), list page URL (site), search URL with {keyword} (platforms)")
    interval: Duration = 600.0
    display_name: str = Field(default="", description="the outlet's name as people know it (白桦新闻网), shown for "
                              "every post of this source; empty: what the feed or page calls itself")
    platform: str = "news"
    tier: Literal["central", "provincial", "local_media", "industry", "self_media", "individual", "unknown"] = (
        "unknown"
    )
    enabled: bool = True
    alert_after: Duration | None = Field(
        default=None, description="blocked or silent this long alerts the admins; default max(3 x interval, 1h)")
    download_timeout: Duration | None = None

    @property
    def alert_window(self) -> float:
        return self.alert_after or max(3 * self.interval, 3600.0)

    # Site spider: CSS or XPath (prefix with `xpath:`); empty means the generic extractor decides.
    link_selector: str = ""
    next_selector: str = ""
    title_selector: str = ""
    content_selector: str = ""
    time_selector: str = ""
    author_selector: str = ""
    # The reply count: on the article page, else in the row of the list page that holds the article's link.
    replies_selector: str = ""
    max_pages: int = Field(default=3, ge=1)
    follow_links: bool = Field(default=False, description="rss: fetch each entry's page for the full text")
    headers: dict[str, str] = Field(default_factory=dict)
    cookies: dict[str, str] = Field(default_factory=dict)
    download_delay: Delay | None = None
    proxy: str = Field(default="", pattern=r"^(https?://.*)?$", description="HTTP(S) proxy, e.g. http://user:pass@host:3128")
    # Platform spiders: what to search for, and how far back a first crawl reaches (later ones stop at the last).
    keywords: list[str] = Field(default_factory=list, description="overrides the watch schemes' keywords")
    lookback: Duration = 86400.0

    @model_validator(mode="after")
    def _url_fits_type(self) -> Source:
        if self.type in ("rss", "site") and not self.url:
            raise ValueError(f"a {self.type} source needs `url`")
        if self.url and self.type in ("baidu_news", "tieba", "wechat", "zhihu") and "{keyword}" not in self.url:
            raise ValueError(f"a {self.type} source's `url` is a search URL with {{keyword}} where the keyword goes")
        return self


def _email_addresses(value: list[str]) -> list[str]:
    for address in value:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
            raise ValueError(f"{address!r} is not an email address")
    return value


Emails = Annotated[list[str], AfterValidator(_email_addresses)]
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Rule(_Section):
    """An alert rule. Post rules (keyword, negative, tier) judge each post of the scheme; `event` judges the
    scheme's events, `spike` the scheme's negative posts per window. Whatever fires, an event has one alert."""

    name: str = Field(min_length=1)
    type: Literal["keyword", "negative", "tier", "event", "spike"]
    scheme: str
    title: str = Field(default="", description="what mail calls the rule; default its name")
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    max_age: Duration = Field(default=86400.0, description="ignore posts published longer ago than this")
    recipients: Emails = Field(default_factory=list, description="overrides alerts.recipients")
    channels: list[str] = Field(default_factory=lambda: ["email"],
                                description='where its alerts go: "email" and names of [[alerts.channels]]')
    # ---- keyword ----
    terms: list[str] = Field(default_factory=list, description="keyword rule: sensitive terms")
    exclude: list[str] = Field(default_factory=list, description="keyword rule: a post with any of these is not a hit")
    near: list[Near] = Field(default_factory=list, description="keyword rule: each pair must appear close together")
    # ---- negative ----
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="negative rule: of the posts labelled negative, only those whose score is below this")
    # ---- tier ----
    tiers: list[Literal["central", "provincial", "local_media", "industry", "self_media", "individual"]] = Field(
        default_factory=lambda: ["central", "provincial"], description="tier rule: source tiers that alert")
    min_followers: int = Field(default=1_000_000, ge=0,
                               description="tier rule: a verified account with more followers alerts too")
    # ---- event ----
    min_posts: int | None = Field(default=None, ge=1, description="event rule: an event with this many posts")
    posts_per_hour: int | None = Field(default=None, ge=1, description="event rule: or this many in its latest hour")
    min_risk: float | None = Field(default=None, ge=0.0, le=1.0, description="event rule: or a risk this high")
    # ---- spike ----
    window: Duration = Field(default=3600.0, description="spike rule: negative posts counted over this window")
    factor: float = Field(default=3.0, gt=0, description="spike rule: alert at this many times the baseline")
    baseline_days: int = Field(default=7, ge=1, description="spike rule: the baseline is the mean of these days")
    min_count: int = Field(default=5, ge=1, description="spike rule: never alert on fewer negative posts")
    # ---- follow-up ----
    realert: Duration | None = Field(
        default=None, description="the rule adds to a new alert of its scheme at most once per this window")
    update_every: Duration | None = Field(default=None, description="digest of a growing event; default alerts'")
    escalate_after: Duration | None = Field(default=None, description="unacknowledged this long: next escalation level")
    escalation: list[Emails] = Field(default_factory=list, description="levels of addresses, first level first")

    @field_validator("min_risk", mode="before")
    @classmethod
    def _risk_scale(cls, value: Any) -> Any:
        # Someone who read risk as a percentage writes 70: say which scale it is rather than "less than 1".
        if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
            raise ValueError(f"risk is on the 0..1 scale, as every page and output shows it (风险 0.73): "
                             f"write {value / 100:g}, not {value:g}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Rule:
        self.title = self.title or self.name
        if self.type == "keyword" and not self.terms:
            raise ValueError("a keyword rule needs `terms`, the sensitive words it watches for")
        if self.type == "event" and self.min_posts is None and self.posts_per_hour is None and self.min_risk is None:
            raise ValueError("an event rule needs `min_posts`, `posts_per_hour` or `min_risk`")
        if bool(self.escalate_after) != bool(self.escalation):
            raise ValueError("`escalate_after` and `escalation` go together: how long to wait, and whom to tell "
                             "(a list of levels, each a list of addresses)")
        return self


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


class ChannelSecrets(_Section):
    """The parts of a channel that are secrets, meant for the environment:
    YUQING_ALERTS__CHANNEL_SECRETS__<NAME>__URL, __SECRET, __HEADERS (NAME in capitals, `-` written `_`)."""

    url: str = Field(default="", pattern=r"^(https?://.*)?$")
    secret: str = ""
    headers: dict[str, str] = Field(default_factory=dict)


class Channel(_Section):
    """A chat robot (DingTalk, WeCom, Feishu) or a generic JSON webhook that alerts can go to."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", description="what rules list in `channels`")
    type: Literal["dingtalk", "wecom", "feishu", "webhook"]
    url: str = Field(default="", pattern=r"^(https?://.*)?$",
                     description="the robot's webhook address; it carries the robot's key: better set from the "
                     "environment")
    secret: str = Field(default="", description="dingtalk 加签 / feishu 签名校验 secret; webhook: the key of its "
                        "X-Yuqing-Signature; set it through YUQING_ALERTS__CHANNEL_SECRETS__<NAME>__SECRET")
    timeout: Duration = 10.0
    headers: dict[str, str] = Field(default_factory=dict, description="webhook: extra request headers")

    @property
    def key(self) -> str:
        """The channel's name as it appears in YUQING_ALERTS__CHANNEL_SECRETS__<NAME>__… (lower case here)."""
        return self.name.lower().replace("-", "_")

    @property
    def variable(self) -> str:
        return f"{ENV_PREFIX}ALERTS__CHANNEL_SECRETS__{self.key.upper()}__"

    def _with(self, secrets: ChannelSecrets | None) -> Channel:
        if secrets:
            self.url = secrets.url or self.url
            self.secret = secrets.secret or self.secret
            self.headers = {**self.headers, **secrets.headers}
        where = f"channel {self.name!r}"
        if not self.url:
            raise ValueError(f"{where} has no url: write it in the file or set {self.variable}URL")
        if self.type == "wecom" and self.secret:
            raise ValueError(f"{where}: a wecom robot signs nothing (its key is in its url); remove the secret")
        if self.headers and self.type != "webhook":
            raise ValueError(f"{where}: `headers` are for type \"webhook\" only")
        for header, value in self.headers.items():
            if not _HEADER_NAME.fullmatch(header) or "\r" in value or "\n" in value:
                raise ValueError(f"{where}: header {header!r} is not a valid header name and one-line value")
        return self


class Alerts(_Section):
    recipients: Emails = Field(default_factory=list)
    evaluate_every: Duration = 60.0
    rules: list[Rule] = Field(default_factory=list)
    retry_base: Duration = Field(default=30.0, description="first retry delay of a failed delivery; doubles")
    retry_max: Duration = Field(default=900.0, description="longest delay between delivery retries")
    delivery_deadline: Duration = Field(
        default=60.0, description="a delivery round sends for this long at most; the rest waits for the next round")
    dashboard_url: str = Field(default="", description="link put in alert mail; defaults to the dashboard")
    admins: Emails = Field(default_factory=list, description="who hears about broken sources")
    update_every: Duration = Field(default=1800.0, description="a growing event's digest at most this often")
    quiet_hours: str = Field(default="", description='"22:00-07:00": mail below critical waits for the morning')
    secret: str = Field(default="", description="signs the links in mail; set YUQING_ALERTS__SECRET")
    link_ttl: Duration = Field(default=7 * 86400.0, description="how long a link in mail works")
    evidence: bool = Field(default=True, description="save each alert's post page (WARC), text and a note under "
                           "<store.path>/evidence when the alert opens")
    evidence_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024,
                                    description="a page's body is cut after this many bytes")
    evidence_timeout: Duration = Field(default=30.0, description="a page's whole fetch, redirects included")
    channels: list[Channel] = Field(default_factory=list, description="chat robots and webhooks rules may name")
    channel_secrets: dict[str, ChannelSecrets] = Field(
        default_factory=dict, description="by channel name: its url, secret and headers, from the environment")
    statement_template: Path | None = Field(
        default=None, description="Jinja template of the draft statement (情况说明); default the shipped one")
    contact: str = Field(default="", description="who to contact, as the draft statement names them")
    state_url: str = Field(
        default="", description="SQLAlchemy URL of the alert state, e.g. postgresql://yuqing@db.example.com/yuqing; "
        "empty: alerts.db in [store] path")
    state_password: str = Field(default="", description="the password of state_url's user; set it through "
                                "YUQING_ALERTS__STATE_PASSWORD, not the file")

    @field_validator("state_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError("not a database URL; write it like \"postgresql://yuqing@db.example.com:5432/yuqing\" "
                             "(the password in YUQING_ALERTS__STATE_PASSWORD)") from None
        if backend not in ("postgresql", "sqlite"):
            raise ValueError(f"{backend!r} is not a database yuqing keeps alerts in; give a postgresql:// URL, or "
                             "leave it empty for alerts.db in [store] path")
        return value

    @field_validator("statement_template")
    @classmethod
    def _template_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value}: no such file; copy alerts/templates/statement.txt.j2 there and adapt it")
        return value

    @model_validator(mode="after")
    def _complete_channels(self) -> Alerts:
        keys = [c.key for c in self.channels]
        for channel in self.channels:
            if channel.key == "email" or keys.count(channel.key) > 1:
                raise ValueError(f"channel {channel.name!r}: channel names must be unique and not \"email\" (the "
                                 f"mail channel), with '-' and '_' and letter case counting as the same")
        # Keys written in the environment arrive in lower case; the file's may be spelled like the channel's name.
        secrets = {name.lower().replace("-", "_"): value for name, value in self.channel_secrets.items()}
        unknown = sorted(set(secrets) - set(keys))
        if unknown:
            raise ValueError(f"channel_secrets: {unknown[0]!r} names no channel; YUQING_ALERTS__CHANNEL_SECRETS__"
                             f"<NAME>__… takes a channel's name in capitals with '-' as '_' (channels: "
                             f"{[c.name for c in self.channels] or 'none'})")
        self.channels = [channel._with(secrets.get(channel.key)) for channel in self.channels]
        return self

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if value:
            start, _, end = value.partition("-")
            if not (_CLOCK.match(start.strip()) and _CLOCK.match(end.strip())) or start.strip() == end.strip():
                raise ValueError(f"{value!r} is not a span of the day: write it like \"22:00-07:00\"")
        return value

    def quiet_span(self) -> tuple[int, int] | None:
        """Start and end of the quiet hours, in minutes after midnight (the end may come before the start)."""
        if not self.quiet_hours:
            return None
        start, end = (_CLOCK.match(part.strip()) for part in self.quiet_hours.split("-"))
        return tuple(int(m.group(1)) * 60 + int(m.group(2)) for m in (start, end) if m)  # type: ignore[return-value]


class Risk(_Section):
    """Weights of the risk score's signals (see analysis/risk.py); 0 turns a signal off."""

    negativity: float = Field(default=3.0, ge=0)
    reach: float = Field(default=2.0, ge=0)
    tier: float = Field(default=1.0, ge=0)
    sensitive: float = Field(default=2.0, ge=0)
    velocity: float = Field(default=2.0, ge=0)
    sensitive_terms: list[str] = Field(default_factory=list, description="raise risk, besides keyword-rule terms")


class Analysis(_Section):
    """The models the analysis reads; unset, the shipped ones (analysis/models)."""

    sentiment_model: Path | None = Field(default=None, description="a folder written by `yuqing train-sentiment`")
    idf_table: Path | None = Field(default=None, description="a file written by `yuqing build-idf`")
    correction_weight: int = Field(default=10, ge=1, le=1000, description="`yuqing train-sentiment "
                                   "--with-corrections`: each analyst's correction counts as this many corpus rows")

    @field_validator("sentiment_model")
    @classmethod
    def _model_folder(cls, value: Path | None) -> Path | None:
        # meta.json marks the folder; the model itself names any other file it misses when it loads.
        if value is not None and not (value / "meta.json").is_file():
            raise ValueError(f"{value} is not a model folder written by `yuqing train-sentiment` (no meta.json); "
                             f"train one with `yuqing train-sentiment --out {value}`")
        return value

    @field_validator("idf_table")
    @classmethod
    def _table_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value}: no such file; build one with `yuqing build-idf --out {value}`")
        return value


class Official(_Section):
    """Who speaks officially: their posts are statements, listed as their event's responses."""

    sources: list[str] = Field(default_factory=list, description="source names whose every post is an official "
                               "statement (the enterprise's own accounts)")
    authors: list[str] = Field(default_factory=list, description="author names or ids of official accounts")
    bodies: list[str] = Field(default_factory=list, description="names of official bodies: a post whose title has "
                              "one next to a response word (回应, 通报, 声明, 说明 ...) reports their statement")

    @field_validator("sources", "authors", "bodies")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if any(not name.strip() for name in value):
            raise ValueError("an empty name matches nothing; remove it")
        return value


class Smtp(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "ssl"] = "none"
    user: str = ""
    password: str = Field(default="", description="set it through YUQING_SMTP__PASSWORD, not the file")
    sender: str = "yuqing@localhost"
    timeout: Duration = 10.0


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Reports(_Section):
    """Briefings by mail: yesterday's each morning, last week's once a week (Asia/Shanghai)."""

    daily: str = Field(default="", description='"08:00": mail yesterday\'s briefing at this time; empty: none')
    weekly: str = Field(default="", description='"mon 08:30": mail last week\'s briefing then; empty: none')
    recipients: Emails = Field(default_factory=list)
    scheme: str = Field(default="", description="one watch scheme's posts only; empty: every post")
    format: Literal["pdf", "html"] = Field(default="pdf", description="attached as; a PDF needs Chromium")
    chromium: str = Field(default="", description="the Chromium that prints PDFs; default one on PATH")

    @field_validator("daily")
    @classmethod
    def _daily(cls, value: str) -> str:
        if value and not _CLOCK.fullmatch(value.strip()):
            raise ValueError(f"{value!r}: give a time of day, like \"08:00\"")
        return value.strip()

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: str) -> str:
        day, _, clock = value.strip().partition(" ")
        if value and (day.lower() not in _DAYS or not _CLOCK.fullmatch(clock.strip())):
            raise ValueError(f"{value!r}: give a weekday and a time, like \"mon 08:30\" ({', '.join(_DAYS)})")
        return f"{day.lower()} {clock.strip()}" if value else ""

    @model_validator(mode="after")
    def _someone(self) -> Reports:
        if (self.daily or self.weekly) and not self.recipients:
            raise ValueError("briefings are scheduled (daily or weekly) but nobody receives them: set recipients")
        return self

    def when(self, kind: str) -> tuple[int | None, int, int] | None:
        """(weekday 0=Monday or None for every day, hour, minute) of the scheduled send, None when not set."""
        value = self.daily if kind == "day" else self.weekly
        if not value:
            return None
        day, clock = (None, value) if kind == "day" else value.split(" ")
        hour, minute = clock.split(":")
        return (_DAYS.index(day) if day else None), int(hour), int(minute)


class Store(_Section):
    backend: Literal["embedded", "elasticsearch"] = "embedded"
    path: Path = Field(default=Path("var"), description="folder of the embedded store, the crawl spool and the "
                       "alert state (with elasticsearch too: the spool and the alert state stay here)")
    # ---- elasticsearch ----
    # NoDecode: from the environment, one address or several separated by commas (or a JSON list) all read.
    url: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:9200"],
        description="one node's address, or several (a list, or separated by commas)")
    api_key: str = Field(default="", description="set it through YUQING_STORE__API_KEY, not the file")
    username: str = ""
    password: str = Field(default="", description="set it through YUQING_STORE__PASSWORD, not the file")
    ca_certs: PemFile | None = Field(default=None, description="CA certificate file (PEM) of the cluster's TLS")
    verify_certs: bool = True
    index_prefix: str = Field(default="yuqing-", pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                              description="start of every index, alias, template and policy name yuqing makes")
    request_timeout: Duration = 30.0
    retention: Duration | None = Field(
        default=None, description="ILM: delete a month's posts this long after the month ends; unset keeps them")

    @field_validator("path")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        # The folder is made when missing; what stands in its way is a file at it or above it.
        existing = next(p for p in (value, *value.parents) if p.exists())
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file, not a folder; name a folder (it is created if missing)")
        return value

    @field_validator("url", mode="before")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not a valid JSON list of addresses ({exc})") from None
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            if not value:
                raise ValueError("give at least one address, e.g. \"https://es.example.com:9200\"")
            for address in value:
                if not (isinstance(address, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", address)):
                    raise ValueError(f"{address!r} is not an http(s) address of a cluster node, e.g. "
                                     "\"https://es.example.com:9200\"")
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> Store:
        if self.api_key and (self.username or self.password):
            raise ValueError("give either api_key or username and password, not both")
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together; set YUQING_STORE__PASSWORD for the password")
        return self


_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_HOST_PATTERN = re.compile(r"\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def _is_ip(value: str, loopback: bool = False) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.is_loopback if loopback else True


class Dashboard(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    refresh: Duration = 15.0
    allowed_hosts: list[str] = Field(
        default_factory=list, description="names the dashboard answers to (the Host header); default in `hosts`")
    session_idle: Duration = Field(default=2 * 3600.0, description="a signed-in session unused this long ends")
    session_lifetime: Duration = Field(default=12 * 3600.0, description="any signed-in session ends this long after "
                                       "sign-in (a shift)")
    secure_cookie: bool = Field(default=False, description="mark the session cookie Secure even over plain http "
                                "(behind a TLS proxy that does not say so); over https it always is")

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not (_HOST_PATTERN.fullmatch(name) or _is_ip(name)):
                raise ValueError(f"{name!r} is not a host name: write a name or address alone (no scheme, port or "
                                 f"path), \"*.example.com\" for a domain's names, or \"*\" for any")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> Dashboard:
        # Listening on every address, the default (the bound address alone) would refuse every visitor.
        if not self.allowed_hosts and self.host in ("0.0.0.0", "::", ""):
            raise ValueError(f"host {self.host!r} listens on every address: list in `allowed_hosts` the names and "
                             f"addresses people open the dashboard by, e.g. [\"yuqing.example.com\", \"10.0.0.5\"]")
        return self

    @property
    def hosts(self) -> list[str]:
        """Host header values answered: `allowed_hosts`, else the bound host (and its other names on loopback)."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.host == "localhost" or _is_ip(self.host, loopback=True):
            return list(dict.fromkeys([self.host, *_LOOPBACK_NAMES]))
        return [self.host]

    @property
    def url(self) -> str:
        """Where the dashboard answers, as people open it (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


_KIBANA_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
_SPACE_ID = re.compile(r"[a-z0-9_-]+")


class Kibana(_Section):
    """Where `yuqing kibana install` puts the dashboards. Credentials belong in the environment
    (YUQING_KIBANA__API_KEY, or YUQING_KIBANA__USERNAME and YUQING_KIBANA__PASSWORD)."""

    url: str = Field(default="http://127.0.0.1:5601", description="Kibana's address, with its base path if any")
    space: str = Field(default="default", description="the space's id, as in its address /s/ID/")
    api_key: str = Field(default="", description="an API key's encoded value; wins over username and password")
    username: str = ""
    password: str = ""
    ca_certs: PemFile | None = Field(default=None, description="CA certificates (PEM) that sign Kibana's, if not public")
    timeout: Duration = 30.0

    @field_validator("url")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _KIBANA_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not Kibana's address: write it like https://kibana.example.com:5601 "
                             f"(with Kibana's base path, if it has one, but no query)")
        return value.rstrip("/")

    @field_validator("space")
    @classmethod
    def _space_id(cls, value: str) -> str:
        if not _SPACE_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a space id: Kibana's space ids are lower-case letters, digits, "
                             f"'_' and '-', as in the space's address /s/ID/ (the default space is \"default\")")
        return value

    @model_validator(mode="after")
    def _user_and_password(self) -> Kibana:
        if bool(self.username) != bool(self.password):
            missing = "password" if self.username else "username"
            raise ValueError(f"a Kibana user needs both `username` and `password`; `{missing}` is missing")
        return self

    def with_options(self, **options: Any) -> Kibana:
        """This section with the command line's options laid over it (None: not given), checked the same way;
        a mistake names its option."""
        given = {key: value for key, value in options.items() if value is not None}
        try:
            return Kibana.model_validate({**self.model_dump(), **given})
        except ValidationError as exc:
            item = exc.errors()[0]
            where = f"--{str(item['loc'][0]).replace('_', '-')}" if item["loc"] else "kibana"
            raise ConfigError(f"{where}: {item['msg'].removeprefix('Value error, ')}") from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    schemes: list[Scheme] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    alerts: Alerts = Field(default_factory=Alerts)
    risk: Risk = Field(default_factory=Risk)
    analysis: Analysis = Field(default_factory=Analysis)
    official: Official = Field(default_factory=Official)
    smtp: Smtp = Field(default_factory=Smtp)
    reports: Reports = Field(default_factory=Reports)
    store: Store = Field(default_factory=Store)
    dashboard: Dashboard = Field(default_factory=Dashboard)
    kibana: Kibana = Field(default_factory=Kibana)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init arguments; the environment overrides it.
        return env_settings, init_settings

    @model_validator(mode="after")
    def _references(self) -> Settings:
        for kind, names in (("schemes", [s.name for s in self.schemes]), ("sources", [s.name for s in self.sources])):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"{kind} names must be unique; {sorted(seen)} appear twice")
        unknown = sorted(set(self.official.sources) - {s.name for s in self.sources})
        if unknown:
            raise ValueError(f"[official] sources names {unknown}, not configured; configured sources: "
                             f"{[s.name for s in self.sources] or 'none'}")
        known = {s.name for s in self.schemes}
        if self.reports.scheme and self.reports.scheme not in known:
            raise ValueError(f"[reports] scheme {self.reports.scheme!r} is not defined; defined schemes: "
                             f"{sorted(known) or 'none'}")
        rules = [r.name for r in self.alerts.rules]
        if len(set(rules)) < len(rules):  # a rule's name keys its checkpoint and its reasons
            raise ValueError(f"alert rule names must be unique; {sorted({n for n in rules if rules.count(n) > 1})} "
                             f"appear twice")
        channels = ["email", *(c.name for c in self.alerts.channels)]
        for rule in self.alerts.rules:
            if rule.scheme not in known:
                raise ValueError(
                    f"alert rule {rule.name!r} names scheme {rule.scheme!r}, which is not defined; "
                    f"defined schemes: {sorted(known) or 'none'}"
                )
            for channel in rule.channels:
                if channel not in channels:
                    raise ValueError(f"alert rule {rule.name!r} names channel {channel!r}, which is not defined; "
                                     f"defined channels: {channels} (add it under [[alerts.channels]])")
        return self

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"no source named {name!r}; configured sources: {[s.name for s in self.sources]}")

    @property
    def data_dir(self) -> Path:
        return self.store.path


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get("YUQING_CONFIG") or DEFAULT_CONFIG)


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _environment() -> dict[str, str]:
    """The YUQING_* variables, by upper-case name (pydantic-settings reads them regardless of case)."""
    return {name.upper(): value for name, value in os.environ.items() if name.upper().startswith(ENV_PREFIX)}


def _holds(value: str, path: tuple[Any, ...]) -> bool:
    """Whether a variable's JSON value reaches down `path`, i.e. set the key there."""
    try:
        node = json.loads(value)
    except ValueError:
        return False
    for part in path:
        if isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return True


def _variable(loc: tuple[Any, ...], environment: dict[str, str]) -> str | None:
    """The environment variable that set the value at `loc` (the environment wins over the file), if any."""
    for end in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(part) for part in loc[:end]).upper()
        if name not in environment:
            continue
        if end == len(loc):
            return name
        if _holds(environment[name], loc[end:]):
            return f"{name} ({_where(loc[end:])})"
    return None


def _explain(error: ValidationError, file: Path) -> str:
    environment = _environment()
    problems = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if p not in ("function-after[_complete()]",))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key; check its spelling against yuqing.example.toml"
        elif item["type"] == "missing":
            message = "required; add it (see yuqing.example.toml)"
        problems.append(f"{_variable(loc, environment) or f'{file}: {_where(loc)}'}: {message}")
    if len(problems) == 1:
        return problems[0]
    return "\n  ".join([f"{len(problems)} problems in the configuration:", *problems])


def _unreadable_variable(error: SettingsError) -> str:
    """pydantic-settings reads list and section values as JSON; name the variable whose JSON is broken."""
    cause = error.__cause__
    if not isinstance(cause, json.JSONDecodeError):
        return str(error)
    names = [name for name, value in sorted(_environment().items()) if value == cause.doc] or ["a YUQING_ variable"]
    return (f"{names[0]}: not valid JSON ({cause.msg} at character {cause.pos + 1}); a list or a section set "
            f"from the environment is written in JSON, e.g. '[\"a@example.com\"]' or '{{\"port\": 465}}'")


def _read(file: Path, required: bool) -> dict[str, Any]:
    if not file.exists():
        if required:
            raise ConfigError(f"{file}: no such file; copy yuqing.example.toml to {file} and edit it")
        return {}
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}; fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text; save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read it: {exc.strerror}") from None


# Secrets that belong in the environment, with what a reader of the file could do with them.
_SECRETS = (
    ("smtp", "password", lambda table: f"send mail as {table.get('user') or 'this account'}"),
    ("alerts", "secret", lambda table: "forge the links in alert mail"),
    ("alerts", "state_password", lambda table: "read and change the alerts and their mail"),
    ("kibana", "password", lambda table: f"change Kibana as {table.get('username') or 'this user'}"),
    ("kibana", "api_key", lambda table: "change Kibana with this key"),
    ("store", "password", lambda table: f"read and change the posts as {table.get('username') or 'this user'}"),
    ("store", "api_key", lambda table: "read and change the posts"),
)


_SENSITIVE_HEADER = re.compile(r"auth|token|key|secret|cookie|signature", re.IGNORECASE)


_SECRET_KEY = re.compile(r"secret|password|api_key|token|headers", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")  # user:password@ in a database URL


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as the admin page shows them: every secret, header and channel address replaced by ***."""

    def mask(value: Any, key: str = "") -> Any:
        # A robot's address carries its key (wecom's ?key=, dingtalk's access_token=).
        if value and (_SECRET_KEY.search(key) or (key == "url" and isinstance(value, str) and "?" in value)):
            return "***"
        if key == "state_url" and value:
            return _URL_PASSWORD.sub(r"\1***@", value)
        if isinstance(value, dict):
            return {k: mask(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v, key) for v in value]
        return value

    return mask(settings.model_dump(mode="json"))


def _advice(data: dict[str, Any], file: Path, settings: Settings) -> list[str]:
    """What is allowed but unwise in the file."""
    advice = []
    for section, key, power in _SECRETS:
        table = data.get(section)
        if isinstance(table, dict) and table.get(key):
            advice.append(f"{file}: [{section}] {key} is written in the file; anyone who can read the file can "
                          f"{power(table)}. Remove it and set the environment variable "
                          f"{ENV_PREFIX}{section.upper()}__{key.upper()} instead")
    alerts = data.get("alerts")
    if isinstance(alerts, dict) and _URL_PASSWORD.search(str(alerts.get("state_url", ""))):
        advice.append(f"{file}: [alerts] state_url has a password written in it; anyone who can read the file can "
                      f"read and change the alerts. Remove it and set {ENV_PREFIX}ALERTS__STATE_PASSWORD instead")
    return advice + _channel_advice(data.get("alerts"), file, settings.alerts.channels)


def _channel_advice(alerts: Any, file: Path, channels: list[Channel]) -> list[str]:
    """Robot keys and secrets written in the file: whoever reads it can post to the group."""
    if not isinstance(alerts, dict):
        return []
    advice = []
    written = {entry.get("name"): entry for entry in alerts.get("channels") or [] if isinstance(entry, dict)}
    for channel in channels:
        entry = written.get(channel.name, {})
        where = f"{file}: [[alerts.channels]] {channel.name!r}:"
        if entry.get("secret"):
            advice.append(f"{where} secret is written in the file; anyone who can read the file can sign messages "
                          f"as this channel. Remove it and set {channel.variable}SECRET instead")
        elif entry.get("url") and channel.type != "webhook" and not channel.secret:
            fix = (f"Set {channel.variable}URL instead" if channel.type == "wecom" else
                   f"Turn on the robot's signing (加签 / 签名校验) and set {channel.variable}SECRET, or set "
                   f"{channel.variable}URL instead")
            advice.append(f"{where} url is written in the file and no secret signs the requests; anyone who can "
                          f"read the file can post to the group with it. {fix}")
        for header in entry.get("headers") or {}:
            if _SENSITIVE_HEADER.search(str(header)):
                advice.append(f"{where} header {header} is written in the file; set it in {channel.variable}HEADERS "
                              f"(a JSON object) instead")
    if alerts.get("channel_secrets"):
        advice.append(f"{file}: [alerts.channel_secrets] is written in the file; it is there for the environment "
                      f"(YUQING_ALERTS__CHANNEL_SECRETS__<NAME>__SECRET): anyone who can read the file can use them")
    return advice


def load(path: str | os.PathLike[str] | None = None, *, required: bool = False,
         warn: Callable[[str], None] | None = None) -> Settings:
    """Read and check the configuration. Raises ConfigError with a message meant for a person; `warn` hears
    what is allowed but unwise."""
    file = config_path(path)
    data = _read(file, required or path is not None)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, file)) from None
    except SettingsError as exc:
        raise ConfigError(_unreadable_variable(exc)) from None
    if warn:
        for advice in _advice(data, file, settings):
            warn(advice)
    return settings


# ---- Scrapy settings (read by `scrapy` through scrapy.cfg, and by crawlers.run) ----
BOT_NAME = "yuqing"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
USER_AGENT = "Mozilla/5.0 (compatible; yuqing/0.1; public-opinion monitor; +https://github.com/yuqing-project/yuqing)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
RETRY_TIMES = 2
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.BreakageMiddleware": 610,
    "crawlers.proxy.SourceProxyMiddleware": 740,  # before Scrapy's HttpProxyMiddleware
    "crawlers.middlewares.EncodingFallbackMiddleware": 950,
}
YUQING_RETRY_AFTER_MAX = 120  # seconds: the longest a Retry-After holds a domain back
YUQING_RETRY_AFTER_DEFAULT = 10  # seconds after a 429 without Retry-After
ITEM_PIPELINES = {
    "crawlers.pipelines.CleanPipeline": 100,
    "crawlers.pipelines.SpoolPipeline": 900,
}
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
