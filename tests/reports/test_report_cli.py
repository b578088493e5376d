"""`yuqing report`, run as a user runs it: the file it writes, and one clear line for each mistake."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.state import AlertState
from store.base import Store

CONFIG = """
[store]
path = "var"

[[schemes]]
name = "beichen"
keywords = ["北辰燃料乙醇"]

[reports]
chromium = "{chromium}"
"""


def report(folder: Path, *args: str, chromium: str = "") -> subprocess.CompletedProcess[str]:
    (folder / "yuqing.toml").write_text(CONFIG.format(chromium=chromium), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "yuqing.cli", "report", "--config", "yuqing.toml", *args],
                          cwd=folder, capture_output=True, text=True, timeout=120)


def test_a_day_as_html_named_after_it(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    done = report(tmp_path, "--day", "2024-03-12")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "舆情日报 2024年3月12日: 5 posts → yuqing-day-2024-03-12.html\n"
    page = (tmp_path / "yuqing-day-2024-03-12.html").read_text(encoding="utf-8")
    assert 'data-figure="posts">' in page and "监测方案" not in page


def test_a_scheme_and_a_file_of_ones_choice(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    done = report(tmp_path, "--week", "2024-03-13", "--scheme", "beichen", "--out", "week.html")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("舆情周报 2024年3月11日—3月17日: 8 posts → week.html")
    assert "监测方案 beichen" in (tmp_path / "week.html").read_text(encoding="utf-8")


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian chromium is not installed (make system-deps)")
def test_pdf_when_the_file_says_so(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    done = report(tmp_path, "--day", "2024-03-12", "--out", "day.pdf")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "day.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(("args", "says"), [
    ((), "give one of --day [DATE] or --week [DATE]"),
    (("--day", "--week"), "give one of --day [DATE] or --week [DATE]"),
    (("--day", "12/03/2024"), "'12/03/2024': give a date like 2026-03-01"),
    (("--day", "--scheme", "nosuch"), "--scheme 'nosuch' names no configured scheme (configured: beichen)"),
])
def test_usage_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    done = report(tmp_path, *args)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


def test_a_pdf_without_chromium_says_what_to_install_and_writes_nothing(filled: tuple[Store, AlertState],
                                                                        tmp_path: Path) -> None:
    done = report(tmp_path, "--day", "2024-03-12", "--format", "pdf", chromium=str(tmp_path / "no-chromium"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "make system-deps" in done.stderr
    assert not list(tmp_path.glob("yuqing-day-*"))


def test_an_unwritable_file_is_one_line(filled: tuple[Store, AlertState], tmp_path: Path) -> None:
    done = report(tmp_path, "--day", "2024-03-12", "--out", "no/such/folder/day.html")
    assert done.returncode == 1
    assert done.stderr.startswith("yuqing: cannot write no/such/folder/day.html: ") and done.stderr.count("\n") == 1


def test_no_store_yet_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    done = report(tmp_path, "--day")
    assert done.returncode == 1
    assert done.stderr == "yuqing: store error: no posts stored under var yet; run `yuqing run` or `make demo` first\n"
    assert not (tmp_path / "var" / "alerts.db").exists()
