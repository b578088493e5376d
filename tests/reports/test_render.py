"""The briefing as HTML (self-contained, in Chinese) and as PDF, whose pages are turned into images and looked at."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts.state import AlertState
from models import OutletNames
from reports import render
from reports.period import Period
from store.base import Store
from tests.reports.conftest import DAY, at
from yuqing.briefing import briefing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_pdf = pytest.mark.skipif(not (CHROMIUM and shutil.which("pdftoppm") and shutil.which("fc-match")),
                               reason="needs Chromium, pdftoppm (poppler-utils) and fontconfig: make system-deps")


def _page(filled: tuple[Store, AlertState], outlets: OutletNames = OutletNames()) -> str:
    store, state = filled
    return render.html(briefing(store, state, Period.of("day", DAY.date()), at(13, 8), None, outlets))


def test_html_says_it_all_in_chinese_and_fetches_nothing(filled: tuple[Store, AlertState]) -> None:
    page = _page(filled)
    assert "<title>舆情日报 · 2024年3月12日</title>" in page
    figures = dict(re.findall(r'data-figure="(\w+)">\s*<div>[^<]+</div>\s*<div class="n">([^<]+)</div>', page))
    assert figures == {"posts": "5", "negative": "3", "negative_share": "60.0%", "events": "2", "alerts": "2"}
    assert "↑150%" in page  # 5 posts against 2
    assert page.count("<svg") == 3  # the trend and two events' lines
    assert "持续发酵" not in page and page.count("热度下降") == 2
    assert "确认用时中位数 <b>15分钟</b>" in page and "解决用时中位数 <b>2小时0分</b>" in page
    assert "中央媒体" in page and "论坛" in page and "已解决" in page and "高" in page
    assert "恶臭 2 ↑" in page
    # Self-contained: no script, stylesheet, image or font fetched from anywhere.
    assert not re.search(r"<script|<link|<img|@import|url\(|src=", page)


def test_the_briefing_names_outlets_not_source_ids(filled: tuple[Store, AlertState]) -> None:
    store, state = filled
    anonymous = store.get("weibo:3")  # the first event's official answer, by no named author
    assert anonymous is not None
    store.upsert([anonymous.model_copy(update={"author": anonymous.author.model_copy(update={"name": ""}),
                                               "outlet": "白桦日报"})])
    page = _page(filled, OutletNames({"news-a": "白桦新闻网", "forum-b": "白桦论坛", "weibo-c": "微博搜索"}))
    sources = re.search(r"<h2>来源</h2>(.*?)</table>", page, re.S)
    assert sources and "白桦新闻网" in sources[1] and "白桦论坛" in sources[1]
    assert "官方回应：白桦日报" in page and "· 白桦论坛" in page  # the negative posts say where each appeared
    assert not re.search(r"news-a|forum-b|weibo-c", page), "a source's id reached the briefing"


def test_html_escapes_what_posts_say(filled: tuple[Store, AlertState]) -> None:
    store, state = filled
    worst = store.get("forum:2")
    assert worst is not None
    store.upsert([worst.model_copy(update={"title": "<script>alert(1)</script>"})])
    page = _page(filled)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _dark_share(pgm: Path) -> float:
    """The share of a greyscale page's pixels that are dark: ink."""
    magic, size, _, pixels = pgm.read_bytes().split(b"\n", 3)
    width, height = map(int, size.split())
    assert magic == b"P5" and len(pixels) == width * height
    return sum(1 for b in pixels if b < 128) / (width * height)


def _pages(pdf: bytes, folder: Path, name: str) -> list[Path]:
    (folder / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-gray", str(folder / f"{name}.pdf"), str(folder / name)], check=True)
    return sorted(folder.glob(f"{name}-*.pgm"))


@needs_pdf
def test_pdf_pages_carry_ink_and_chinese(filled: tuple[Store, AlertState], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(filled)
    pdf = render.pdf(page)
    assert pdf.startswith(b"%PDF-")
    pages = _pages(pdf, tmp_path, "cjk")
    assert 1 <= len(pages) <= 3
    with_cjk = _dark_share(pages[0])
    assert with_cjk > 0.01, "the first page is (nearly) blank"
    # The same page printed by a Chromium that sees one Latin font only: the Chinese turns into empty boxes,
    # which carry far less ink than the characters do.
    latin = tmp_path / "latin"
    latin.mkdir()
    shutil.copy(subprocess.run(["fc-match", "-f", "%{file}", "sans-serif:lang=en"], capture_output=True, text=True,
                               check=True).stdout, latin)
    (tmp_path / "fonts.conf").write_text(
        f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><dir>{latin}</dir>'
        f'<cachedir>{tmp_path / "cache"}</cachedir></fontconfig>', encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(tmp_path / "fonts.conf"))
    without_cjk = _dark_share(_pages(render.pdf(page), tmp_path, "latin")[0])
    assert with_cjk > 1.5 * without_cjk, (with_cjk, without_cjk)


def test_a_missing_browser_is_named_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(render.ReportError, match=r"is no file: install Chromium \(`make system-deps`"):
        render.pdf("<p>x</p>", str(tmp_path / "no-chromium"))


@needs_pdf
def test_no_browser_on_path_and_none_of_playwrights_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    with pytest.raises(render.ReportError, match=r"PDF needs Chromium and none was found: install Chromium"):
        render.pdf("<p>x</p>")
