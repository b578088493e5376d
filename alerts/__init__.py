"""Alerting: rule types, the engine that runs them over the store, alert state with its outbox, notifiers."""
