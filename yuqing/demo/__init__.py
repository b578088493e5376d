"""A self-contained live demo: a local news site and forum that unfold an incident, a local mail sink,
and the yuqing service watching both."""

from pathlib import Path

VAR = Path("var")  # where `yuqing demo` keeps its store and mail: under the folder it runs in


def demo_config(var: Path = VAR) -> Path:
    """The configuration a demo writes for its run; its store is the folder the file is in."""
    return var / "demo" / "yuqing.toml"
