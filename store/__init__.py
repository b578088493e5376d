"""Storage of analysed posts behind one interface (store.base.Store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from store.base import Store

if TYPE_CHECKING:
    import settings


def open_store(section: settings.Store | Path | str) -> Store:
    """The one place that picks a backend from the configuration."""
    from store.embedded import EmbeddedStore

    if isinstance(section, str | Path):
        return EmbeddedStore(Path(section))
    if section.backend == "embedded":
        return EmbeddedStore(section.path)
    raise ValueError(f"unknown store backend {section.backend!r}")
