"""Alerts copied into the store, where Kibana's alerts panels read them (on Elasticsearch; the embedded store
needs none).

The alert state is the record of truth. Each alert carries a revision, new at every change, and the revision
the store last took; a round copies what the store has not taken yet. A store that is down leaves them for the
next round: nothing is lost, and nothing waits for it (mail goes out on its own).
"""

from __future__ import annotations

import logging

from alerts.state import AlertState
from store.base import Store

log = logging.getLogger(__name__)

PAGE = 500


def publish(state: AlertState, store: Store, everything: bool = False) -> int:
    """Copy the alerts changed since the store last took them (`everything`: every alert, as `yuqing es migrate`
    does); returns how many were copied. Raises StoreError when the store cannot take them now: what is left
    stays for the next round. A copy the store refuses for good is logged and tried again at the next round."""
    copied, after = 0, 0
    while batch := state.unsynced(PAGE, after, everything):
        refused = store.upsert_alerts(batch)
        for key, why in refused.items():
            log.error("the store refused the copy of alert %s (%s); it is tried again at the next round", key, why)
        state.mark_synced(copy for copy in batch if copy.key not in refused)
        copied += len(batch) - len(refused)
        after = batch[-1].alert_id
    return copied
