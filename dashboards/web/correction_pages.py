"""An analyst's correction of a post, from its page: its sentiment, or that it is not about the enterprise.

The form is a partial of the post page (post_correction.html); the store applies the correction, so every
page, count, search, report and the next alert run read the corrected post at once (see Store.correct).
Posting needs the analyst role (auth.required_role: changes other than alerts and accounts).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import Environment
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboards.web.auth import signed_in
from dashboards.web.forms import FormError, FormGuard
from models import Correction, now
from store.base import Store

CORRECTION_FORM = 0  # the id its form token signs: as a saved search's, it can act on no alert (ids start at 1)
RELEVANCE = {"": None, "yes": True, "no": False}
LABELS = ("negative", "neutral", "positive")
PROBLEMS = {"by": "请填写更正人姓名（不超过 64 个字）。", "note": "备注不能超过 1000 个字。"}


def may_correct() -> bool:
    """Whether the page's reader may correct: anyone on an open dashboard, an analyst or above once signed in."""
    account = signed_in()
    return account is None or account.may("analyst")


def correction_routes(store: Store, templates: Environment, guard: FormGuard) -> list[Route]:
    templates.globals.update(correction_token=lambda: guard.issue(CORRECTION_FORM), may_correct=may_correct)

    def notice(status: int, message: str, post_id: str) -> HTMLResponse:
        page = templates.get_template("notice.html").render(
            heading="无法更正", message=message, advice=f"请返回信息页面（/posts/{post_id}）修改后重新提交。",
            alert_id=None)
        return HTMLResponse(page, status_code=status)

    async def correct(request: Request) -> Response:
        post_id = request.path_params["post_id"]
        try:
            form = await guard.read(request, CORRECTION_FORM)
        except FormError as exc:
            return notice(403, str(exc), post_id)
        correction = _correction(form)
        if isinstance(correction, str):
            return notice(400, correction, post_id)
        post = await run_in_threadpool(store.correct, post_id, correction)
        if post is None:
            return notice(404, f"信息 {post_id} 不在库中。", post_id)
        return RedirectResponse(f"/posts/{quote(post_id, safe=':')}?corrected=1", status_code=303)

    return [Route("/corrections/{post_id:path}", correct, methods=["POST"])]


def _correction(form: dict[str, Any]) -> Correction | str:
    """The form's correction, or what is wrong with it (for the person who sent it)."""
    sentiment = form.get("sentiment", "")
    relevant = form.get("relevant", "")
    if sentiment and sentiment not in LABELS:
        return "情感须为负面、中性或正面。"
    if relevant not in RELEVANCE:
        return "相关性须为“相关”或“无关”。"
    if not sentiment and RELEVANCE[relevant] is None:
        return "请选择更正后的情感，或标记是否与本企业相关。"
    # Signed in, the account corrects: a name typed into the form does not count.
    who = account.name if (account := signed_in()) else form.get("by", "").strip()
    try:
        return Correction(sentiment=sentiment or None, relevant=RELEVANCE[relevant], by=who,  # type: ignore[arg-type]
                          at=now(), note=form.get("note", "").strip())
    except ValidationError as exc:
        return PROBLEMS.get(str(exc.errors()[0]["loc"][0]), "表单内容无效。")
