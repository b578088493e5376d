"""Dashboards: the built-in web dashboard (Kibana saved objects come with the Elasticsearch backend)."""
