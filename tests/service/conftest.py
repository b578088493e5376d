"""What the command-line tests of this folder share."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import free_port

# A store under ./var, one source that is never crawled by itself, free ports for mail and the dashboard.
IDLE_CONFIG = """
[store]
path = "var"

[[sources]]
name = "news"
type = "rss"
url = "http://127.0.0.1:9/feed.xml"
enabled = false

[smtp]
port = {smtp_port}

[dashboard]
port = {port}
"""


def write_idle_config(folder: Path) -> Path:
    path = folder / "yuqing.toml"
    path.write_text(IDLE_CONFIG.format(smtp_port=free_port(), port=free_port()), encoding="utf-8")
    return path
