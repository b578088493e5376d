"""The parts of SnowNLP the analysis uses — its naive Bayes classifier and its traditional-to-simplified
table — without what its package loads on import: segmentation, tagging and sentiment models we do
not use, about 400 MB. The package is registered without running its __init__; its submodules load
as usual, so `snownlp.sentiment` and the others still work when something asks for them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path


def _register_package() -> None:
    if "snownlp" in sys.modules:
        return
    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("snownlp is not installed")
    package = types.ModuleType("snownlp")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["snownlp"] = package


def _zh() -> types.ModuleType:
    """snownlp.normal.zh, without its package's __init__ when that has not run: it reads pinyin and stopword
    tables (a tenth of a second) that nothing here uses. Registered under its name, so that the package, if
    something imports it later, takes this one."""
    name = "snownlp.normal.zh"
    if name in sys.modules or "snownlp.normal" in sys.modules:
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(name, Path(sys.modules["snownlp"].__path__[0]) / "normal" / "zh.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} not found")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_register_package()

from snownlp.classification.bayes import Bayes  # noqa: E402
from snownlp.utils.frequency import AddOneProb  # noqa: E402

zh = _zh()

# SnowNLP's converter walks a trie a character at a time (about 1 µs a character); its one-character
# entries as a str.translate table do the same for characters in a fraction of that. Its few
# phrase entries (印表機 → 打印机) are vocabulary choices, not character forms, and are left out.
# SnowNLP's table writes 余 (and 餘) as 馀, a variant simplified Chinese keeps for rare ambiguities only: 十余家
# must stay 十余家, and 餘 is 余.
_SINGLE = {k: v for k, v in zh.zh2hans.items() if len(k) == 1 and len(v) == 1 and k != v and k != "余"}
_TO_SIMPLIFIED = str.maketrans({**_SINGLE, "餘": "余", "馀": "余"})
# Most posts hold no traditional character: finding none is some thirty times faster than translating.
_TRADITIONAL = re.compile("[" + re.escape("".join(map(chr, _TO_SIMPLIFIED))) + "]")


def zh2hans(text: str) -> str:
    return text.translate(_TO_SIMPLIFIED) if _TRADITIONAL.search(text) else text


__all__ = ["AddOneProb", "Bayes", "zh2hans"]
