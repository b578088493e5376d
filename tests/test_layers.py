"""Imports run one way: settings and the model ← crawlers, analysis, store ← alerts, dashboards, reports ← yuqing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LEVEL = {"settings": 0, "models": 0, "crawlers": 1, "analysis": 1, "store": 1, "alerts": 2, "dashboards": 2, "reports": 2,
         "yuqing": 3}
# Stages of one level do not import each other: the crawler, the analysis and the store know nothing of one
# another; alerts, dashboards and reports all read the store, none reads another (reports get alerts as plain data).
SIBLINGS_APART = {1, 2}


def _modules() -> list[Path]:
    files = [ROOT / "settings.py", ROOT / "models.py"]
    for package in LEVEL:
        if (ROOT / package).is_dir():
            files += sorted((ROOT / package).rglob("*.py"))
    return files


def _imported_tops(path: Path) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops & LEVEL.keys()


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path: Path) -> None:
    own = path.relative_to(ROOT).parts[0].removesuffix(".py")
    wrong = []
    for top in _imported_tops(path) - {own}:
        if LEVEL[top] > LEVEL[own] or (LEVEL[top] == LEVEL[own] and LEVEL[own] in SIBLINGS_APART):
            wrong.append(top)
    assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}, a later or sibling stage"


def test_the_rule_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "wrong.py"
    module.write_text("from yuqing.service import Service\nimport store.base\n", encoding="utf-8")
    assert _imported_tops(module) == {"yuqing", "store"}
