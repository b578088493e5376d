"""The Elasticsearch backend: `[store] backend = "elasticsearch"`."""

from store.elastic.backend import ElasticStore

__all__ = ["ElasticStore"]
