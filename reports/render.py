"""A briefing as one self-contained HTML page (style inline, charts as SVG, nothing fetched), and as PDF printed
from that page by headless Chromium through Playwright."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from reports import charts
from reports.figures import Briefing

_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
# Debian's and others' names for the same browser; Playwright's own download is tried after them.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "install Chromium (`make system-deps` does on Debian) or set [reports] chromium to its path"


class ReportError(Exception):
    """A briefing could not be made as asked; the message says why and what to do."""


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes}分钟"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}小时{minutes}分" if hours < 48 else f"{hours // 24}天{hours % 24}小时"


def _change(value: float | None) -> str:
    if value is None:
        return "—"
    arrow = "↑" if value > 0 else "↓" if value < 0 else ""
    return f"{arrow}{abs(value):.0%}" if arrow else "持平"


def _when(value: datetime | None, with_date: bool = True) -> str:
    if value is None:
        return "—"
    return value.strftime("%m-%d %H:%M") if with_date else value.strftime("%H:%M")


_templates.filters.update(duration=_duration, change=_change, when=_when)


def html(briefing: Briefing) -> str:
    return _templates.get_template("report.html.j2").render(
        b=briefing, labels={**dict.fromkeys(("severity", "state", "tier", "platform"), {}), **briefing.labels},
        trend=charts.trend(briefing.trend),
        sparks={line.event.id: charts.sparkline([n for _, n in line.timeline]) for line in briefing.events},
    )


def find_browser(configured: str = "") -> str | None:
    """The Chromium to print with: the configured path, else one on PATH; None for Playwright's own."""
    if configured:
        if not Path(configured).is_file():
            raise ReportError(f"[reports] chromium = {configured!r} is no file: {INSTALL_HINT}")
        return configured
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def pdf(page: str, browser: str = "") -> bytes:
    """The page printed to A4 by headless Chromium, backgrounds and all."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:  # pragma: no cover - a dependency of the project: only a broken install lacks it
        raise ReportError(f"PDF needs Playwright ({exc}); reinstall the project, or use --format html") from exc
    executable = find_browser(browser)
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
            try:
                tab = chromium.new_page()
                tab.set_content(page, wait_until="load")
                return tab.pdf(format="A4", print_background=True,
                               margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            finally:
                chromium.close()
    except Error as exc:
        if executable is None and "Executable doesn't exist" in str(exc):
            raise ReportError(f"PDF needs Chromium and none was found: {INSTALL_HINT}; or use --format html") from None
        raise ReportError(f"Chromium could not print the briefing: {str(exc).splitlines()[0]}") from exc
