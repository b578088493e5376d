"""The search page, its CSV and JSON exports, saved searches and a post's own page.

The whole search lives in the address (/search?q=…&range=7d&sort=relevance&page=3): a link can be shared, the
back button steps through earlier searches, and an export link asks for exactly what the page shows.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from dashboards.web.alert_pages import SENTIMENTS, Json
from dashboards.web.forms import FormError, FormGuard
from dashboards.web.saved_searches import SavedSearchError, SavedSearches
from models import SHANGHAI, OutletNames, Post, now
from store.base import SearchQuery, Store
from store.query import Query, QueryError

Parse = Callable[[str], Query | None]
Label = Callable[[str, str | None], str]

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
RANGE_LABELS = {"24h": "近24小时", "7d": "近7天", "30d": "近30天", "all": "全部时间"}
SORTS = {"time": "按时间", "relevance": "按相关度"}
FILTERED_SENTIMENTS = ("negative", "neutral", "positive")
PAGE_SIZE = 50
DUPLICATES_SHOWN = 10  # on a post's page; the rest are a search away
EXPORT_MAX = 50_000  # rows in one export: more is a job for `yuqing search`, not a browser download
EXPORT_BATCH = 1000
Q_MAX = 500
PAGE_MAX = EXPORT_MAX // PAGE_SIZE  # deeper pages would make the store rank everything above them
AT_MAX = 4_102_444_800  # 2100-01-01: a moment past it is no search anyone made
# Forms that change no alert sign this id: alert ids start at 1, so such a token can act on no alert.
SAVED_FORM = 0


class SearchError(ValueError):
    """A search address that cannot be read; the message is for the person who opened it."""


@dataclass(frozen=True)
class SearchForm:
    """What a search asks, as the address carries it."""

    q: str = ""
    range: str = "all"
    sentiment: str = ""
    source: str = ""
    sort: str = "time"
    event: str = ""  # the posts of one event (its page links here: every post of it, to page through or export)
    dup_of: str = ""  # the duplicates of one post (its page links here when it has more than it lists)
    page: int = 1
    at: int | None = None  # the moment ranges count back from (epoch s): exports get the page's own moment

    @classmethod
    def read(cls, params: Mapping[str, str]) -> SearchForm:
        form = cls(q=params.get("q", "").strip(), range=params.get("range") or "all",
                   sentiment=params.get("sentiment", ""), source=params.get("source", "").strip(),
                   sort=params.get("sort") or "time", event=params.get("event", "").strip(),
                   dup_of=params.get("dup_of", "").strip())
        if len(form.q) > Q_MAX:
            raise SearchError(f"搜索词不能超过 {Q_MAX} 个字符。")
        if form.range not in RANGES:
            raise SearchError(f"时间范围须为 {'、'.join(RANGES)} 之一。")
        if form.sort not in SORTS:
            raise SearchError("排序须为 time（按时间）或 relevance（按相关度）。")
        if form.sentiment and form.sentiment not in FILTERED_SENTIMENTS:
            raise SearchError(f"情感须为 {'、'.join(FILTERED_SENTIMENTS)} 之一。")
        try:
            page = int(params.get("page") or 1)
            at = int(params["at"]) if params.get("at") else None
        except ValueError:
            raise SearchError("页码和时间须为整数。") from None
        if not 1 <= page <= PAGE_MAX:
            raise SearchError(f"页码须在 1 到 {PAGE_MAX} 之间；结果更多时请缩小范围或导出。")
        if at is not None and not 0 <= at <= AT_MAX:
            raise SearchError("时间不在可查询的范围内。")
        return replace(form, page=page, at=at)

    def params(self, **changes: Any) -> dict[str, str]:
        """The address query of this search (changed by `changes`), defaults left out so addresses stay short."""
        shown = replace(self, **changes)
        defaults = SearchForm()
        return {name: str(value) for name in ("q", "range", "sentiment", "source", "sort", "event", "dup_of", "page", "at")
                if (value := getattr(shown, name)) != getattr(defaults, name) and value is not None}

    def address(self, path: str = "/search", **changes: Any) -> str:
        params = self.params(**changes)
        return f"{path}?{urlencode(params)}" if params else path

    @property
    def saved_query(self) -> str:
        """What a saved search keeps: the search, not its page nor its moment."""
        return urlencode(self.params(page=1, at=None))

    def query(self, parse: Parse, limit: int, offset: int) -> SearchQuery:
        """The store's query; QueryError when the text cannot be read."""
        moment = datetime.fromtimestamp(self.at, SHANGHAI) if self.at is not None else now()
        span = RANGES[self.range]
        return SearchQuery(text=parse(self.q), since=moment - span if span else None, until=moment if span else None,
                           sentiment=self.sentiment or None, source=self.source or None,
                           event_id=self.event or None, dup_of=self.dup_of or None, sort=self.sort, limit=limit, offset=offset)  # type: ignore[arg-type]


def post_path(post_id: str) -> str:
    return "/posts/" + quote(post_id, safe=":")


def all_posts(store: Store, query: SearchQuery) -> Iterator[Post]:
    """Every post of the search, in its order, up to EXPORT_MAX, read a batch at a time."""
    for offset in range(0, EXPORT_MAX, EXPORT_BATCH):
        found = store.search(replace(query, limit=min(EXPORT_BATCH, EXPORT_MAX - offset), offset=offset))
        yield from found.posts
        if offset + EXPORT_BATCH >= found.total or not found.posts:
            return


CSV_COLUMNS = ("编号", "发布时间", "标题", "来源", "采集源", "平台", "来源级别", "作者", "粉丝数", "转发", "评论", "点赞", "阅读",
               "情感", "正负倾向", "风险", "监测方案", "事件", "地区", "重复于", "链接", "正文")


def spreadsheet_safe(value: str) -> str:
    """Crawled text starting with = + - @ would run as a formula in Excel: a leading apostrophe keeps it text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_row(post: Post, label: Label, outlets: OutletNames) -> list[str]:
    sentiment = post.sentiment
    cells = [post.id, f"{post.time.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}", post.title, outlets(post),
             post.source,
             label("platform", post.platform), label("tier", post.source_tier), post.author.name,
             "" if post.author.followers is None else str(post.author.followers), str(post.metrics.reposts),
             str(post.metrics.comments), str(post.metrics.likes), str(post.metrics.views),
             SENTIMENTS[sentiment.label if sentiment else "unknown"], f"{sentiment.score:.2f}" if sentiment else "",
             "" if post.risk is None else f"{post.risk:.2f}", "、".join(post.scheme_names()), post.event_id or "",
             post.region, post.dup_of or "", post.url, post.content]
    return [spreadsheet_safe(cell) for cell in cells]


def csv_lines(posts: Iterator[Post], label: Label, outlets: OutletNames) -> Iterator[str]:
    """UTF-8 with a BOM and CRLF line ends: Excel on office Windows opens it with the Chinese intact."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for post in posts:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(post, label, outlets))
        yield buffer.getvalue()


def json_chunks(form: SearchForm, total: int, posts: Iterator[Post], outlets: OutletNames) -> Iterator[str]:
    """One JSON document, written a post at a time so a large export is never whole in memory."""
    head = {"query": form.params(page=1), "total": total, "limit": EXPORT_MAX}
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "posts": ['
    for n, post in enumerate(posts):
        shown = {**post.model_dump(mode="json", exclude={"tokens", "simhash"}), "outlet": outlets(post)}
        yield ("," if n else "") + json.dumps(shown, ensure_ascii=False)
    yield "]}"


def download_name(kind: str, at: datetime) -> str:
    return f"yuqing-search-{at.astimezone(SHANGHAI):%Y%m%d-%H%M}.{kind}"


def search_routes(store: Store, templates: Environment, parse: Parse, saved: SavedSearches, guard: FormGuard,
                  label: Label, outlets: OutletNames) -> list[Route]:
    templates.filters.update(post_path=post_path)

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=status)

    def notice(status: int, heading: str, message: str, advice: str = "") -> HTMLResponse:
        return page("notice.html", status, heading=heading, message=message, advice=advice, alert_id=None)

    def search(request: Request) -> Response:
        context: dict[str, Any] = {
            "ranges": RANGE_LABELS, "sorts": SORTS, "sentiments": SENTIMENTS, "filtered": FILTERED_SENTIMENTS,
            "form_token": guard.issue(SAVED_FORM), "done": request.query_params.get("saved")}
        try:
            context["saved"], context["saved_error"] = saved.list(), None
        except SavedSearchError as exc:
            context["saved"], context["saved_error"] = [], str(exc)
        try:
            form = SearchForm.read(request.query_params)
        except SearchError as exc:
            return page("search.html", 400, form=SearchForm(), error=str(exc), position=None, result=None, **context)
        if {k: v for k, v in request.query_params.items() if k != "saved"} != form.params():
            # The form sends its defaults and empty fields too: the address to share and keep is the short one.
            return RedirectResponse(form.address(), status_code=302)
        form = replace(form, at=form.at or int(now().timestamp()))
        try:
            result = store.search(form.query(parse, PAGE_SIZE, (form.page - 1) * PAGE_SIZE))
        except QueryError as exc:
            return page("search.html", 400, form=form, error=exc.chinese, position=exc.position, result=None, **context)
        pages = max(1, -(-result.total // PAGE_SIZE))
        around = range(max(1, form.page - 3), min(pages, form.page + 3) + 1)
        # The filters a page or a post links here with are said by title: people do not read ids.
        event = store.get_event(form.event) if form.event else None
        original = store.get(form.dup_of) if form.dup_of else None
        return page("search.html", form=form, error=None, position=None, result=result, pages=pages,
                    around=around, page_size=PAGE_SIZE, export_max=EXPORT_MAX, event=event, original=original,
                    **context)

    def export(kind: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            try:
                form = SearchForm.read(request.query_params)
                query = form.query(parse, EXPORT_BATCH, 0)
            except SearchError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except QueryError as exc:
                return JSONResponse({"error": exc.chinese, "position": exc.position}, status_code=400)
            total = store.count(query)
            at = datetime.fromtimestamp(form.at, SHANGHAI) if form.at else now()
            posts = all_posts(store, query)
            body, media = ((csv_lines(posts, label, outlets), "text/csv; charset=utf-8") if kind == "csv" else
                           (json_chunks(form, total, posts, outlets), "application/json"))
            return StreamingResponse(body, media_type=media, headers={
                "Content-Disposition": f'attachment; filename="{download_name(kind, at)}"',
                "X-Result-Total": str(total), "X-Result-Exported": str(min(total, EXPORT_MAX))})
        return handler

    async def save(request: Request) -> Response:
        try:
            form = await guard.read(request, SAVED_FORM)
            # Kept as the search page reads it: what cannot be searched is not saved.
            search = SearchForm.read(dict(parse_qsl(form.get("query", "").lstrip("?"))))
            saved.add(form.get("name", ""), search.saved_query)
        except (FormError, SavedSearchError, SearchError) as exc:
            return notice(400, "无法保存搜索", str(exc), "请返回搜索页面后重试。")
        shown = urlencode({**search.params(page=1, at=None), "saved": "1"})
        return RedirectResponse(f"/search?{shown}", status_code=303)

    async def remove(request: Request) -> Response:
        try:
            form = await guard.read(request, SAVED_FORM)
            if not saved.remove(request.path_params["search_id"]):
                return notice(404, "没有这个保存的搜索", "它可能已被删除。")
        except (FormError, SavedSearchError) as exc:
            return notice(400, "无法删除", str(exc), "请返回搜索页面后重试。")
        return RedirectResponse("/search", status_code=303)

    def post_page(request: Request) -> HTMLResponse:
        post_id = request.path_params["post_id"]
        post = store.get(post_id)
        if post is None:
            return notice(404, "没有这条信息", f"信息 {post_id} 不在库中。", "请从搜索结果中选择。")
        event = store.get_event(post.event_id) if post.event_id else None
        related = {name: store.get(other)
                   for name, other in (("dup_of", post.dup_of), ("repost_of", post.repost_of)) if other}
        duplicates = store.search(SearchQuery(dup_of=post.id, limit=DUPLICATES_SHOWN))
        return page("post.html", post=post, event=event, related=related, sentiments=SENTIMENTS,
                    duplicates=duplicates, duplicates_search=SearchForm(dup_of=post.id).address())

    def api_post(request: Request) -> Response:
        post = store.get(request.path_params["post_id"])
        if post is None:
            return Json({"error": "no such post"}, status_code=404)
        return Json(post.model_dump(mode="json", exclude={"tokens", "simhash"}))

    return [
        Route("/search", search),
        Route("/search.csv", export("csv")),
        Route("/search.json", export("json")),
        Route("/search/saved", save, methods=["POST"]),
        Route("/search/saved/{search_id:int}/delete", remove, methods=["POST"]),
        Route("/posts/{post_id:path}", post_page),
        Route("/api/posts/{post_id:path}", api_post),
    ]
