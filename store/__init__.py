"""Storage of analysed posts behind one interface (store.base.Store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from store.base import Store

if TYPE_CHECKING:
    import settings
    from store.text import IndexGrams


def open_store(section: settings.Store | Path | str, *, grams: IndexGrams | None = None, readonly: bool = False,
               repair: bool = True) -> Store:
    """The one place that picks a backend from the configuration.

    `grams`: the analysis stage's gram function (store.text); a store opened for writing needs it.
    `readonly`: for searches and reports; never writes, so it never waits for (or fails on) a running writer.
    `repair=False`: leave an index that must be rebuilt as it is, for `reindex` to rebuild at once (embedded).
    Backends are imported when chosen: each loads its own libraries only.
    """
    if isinstance(section, str | Path) or section.backend == "embedded":
        from store.embedded import EmbeddedStore

        return EmbeddedStore(Path(section) if isinstance(section, str | Path) else section.path, grams=grams,
                             readonly=readonly, repair=repair)
    if section.backend == "elasticsearch":  # the cluster is the record of truth: nothing to repair here
        from store.elastic import ElasticStore

        return ElasticStore(section, grams=grams, readonly=readonly)
    raise ValueError(f"unknown store backend {section.backend!r}")
