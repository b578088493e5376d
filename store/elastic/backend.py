"""The production store: an Elasticsearch 8/9 cluster holds the posts (see store.elastic.layout for where).

The cluster is the record of truth; nothing of the posts is kept on this machine. Opening the store does
not reach the cluster, so a service starts while it is down (the crawl spool keeps what arrives). Each upsert
is refreshed before it returns, so a search right after it sees its posts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from elasticsearch import BadRequestError, ConflictError, Elasticsearch
from elasticsearch.helpers import streaming_bulk

from store.base import (AlertCopy, AuthorReach, Breakdown, EventQuery, Health, Interval, Progress, SearchQuery,
                        SearchResult, Store, StoreError, UpsertResult, VolumeBucket, epoch_ms, keep_corrections,
                        last_seen_bounds, volume_buckets)
from store.elastic import dsl
from store.elastic.client import connect, reason, said, shown
from store.elastic.layout import Layout, has_template, month_end, month_of, template_lifecycle
from models import Correction, Event, Post, now
from store.text import GRAM_FIELDS, TOKENS, IndexGrams, search_fields

if TYPE_CHECKING:
    import settings

log = logging.getLogger(__name__)

_BATCH = 500  # posts a bulk request carries, and a rebuild reads at a time
_WINDOW = 10_000  # Elasticsearch's index.max_result_window: deeper pages are walked with search_after
_ID_BYTES = 512  # the longest document id Elasticsearch takes
# A bulk item the cluster rejects as too busy (429) is sent again after 1, 2, 4, 8, 16 s; then it waits in the spool.
_RETRIES, _BACKOFF, _MAX_BACKOFF = 5, 1.0, 16.0
_CHECK_TIMEOUT = 5.0  # seconds at most: check() asks quickly whether the cluster answers at all
_CORRECT_TRIES = 5  # a correction read again after a later crawl of its post was written meanwhile
# Terms aggregations: shards send this many values first, 8 times more while that cut some; past the
# cluster's own limit of buckets in an answer (search.max_buckets), composite pages.
_SHARD_SIZE, _MAX_BUCKETS, _COMPOSITE_PAGE = 1000, 65_536, 10_000
_BREAKDOWN_FIELDS = {"source": "source", "platform": "platform", "tier": "source_tier", "region": "region",
                     "sentiment": "sentiment.label"}
_REACH_FIELDS = ("author.followers", "metrics.reposts", "metrics.comments", "metrics.likes")
_SORTS = {"time": [{"time": "desc"}, {"id": "asc"}], "relevance": [{"_score": "desc"}, {"id": "asc"}]}
_EVENT_SORTS = {"time": [{"last_seen": "desc"}, {"id": "asc"}],
                "risk": [{"risk": "desc"}, {"last_seen": "desc"}, {"id": "asc"}]}


# What a document holds beside the post's own fields: its time, and its text as search reads it.
_DERIVED = frozenset({"time", *(field for pair in GRAM_FIELDS.values() for field in pair)})


def document(post: Post, grams: IndexGrams) -> dict[str, Any]:
    doc = post.model_dump(mode="json")
    doc["time"] = post.time.isoformat()
    fields = search_fields(post, grams)
    del fields[TOKENS]  # the post's own list: the field's analyzer reads it as the embedded store does
    doc.update(fields)
    return doc


def alert_id(key: str) -> str:
    """The copy's id: the alert's key, unless it is longer than Elasticsearch takes (then its digest)."""
    return key if len(key.encode("utf-8")) <= _ID_BYTES else f"sha256:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"


def alert_document(alert: AlertCopy) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in alert.fields.items()}


def _post(source: dict[str, Any]) -> Post:
    return Post.model_validate({key: value for key, value in source.items() if key not in _DERIVED})


class ElasticStore(Store):
    """`client`: an Elasticsearch client of your own (tests); by default one made from `section`."""

    def __init__(self, section: settings.Store, *, grams: IndexGrams | None = None, readonly: bool = False,
                 client: Elasticsearch | None = None) -> None:
        self.section = section
        self.grams = grams
        self.readonly = readonly
        self.layout = Layout(section.index_prefix)
        self.where = shown(section.url)
        self.client = client or connect(section)
        self._events_index = False  # known to exist: `yuqing es setup` makes it
        self._alerts_template = False  # likewise

    def _said(self, timeout: float | None = None) -> Any:
        return said(self.where, timeout or self.section.request_timeout)

    # ---- where posts live ----
    def _known_months(self) -> dict[str, str]:
        """Month → the index holding it, as the alias lists them now. Asked again for every batch: indices come
        and go behind our back (ILM deletes old months; a cluster rebuilt from nothing has none)."""
        found = self.client.options(ignore_status=404).indices.get_alias(name=self.layout.posts).body
        months: dict[str, tuple[int, str]] = {}
        for index in found:
            parsed = self.layout.parse(index)
            if parsed and parsed[1] >= months.get(parsed[0], (0, ""))[0]:
                months[parsed[0]] = (parsed[1], index)
        return {month: index for month, (_, index) in months.items()}

    def _month_index(self, months: dict[str, str], month: str) -> str:
        """The index that holds `month`, made from the template when it is the month's first post."""
        if month in months:
            return months[month]
        lifecycle = template_lifecycle(self.client, self.layout)
        if lifecycle is None:  # an index made without it would take any field, with guessed types
            raise StoreError(f"the Elasticsearch cluster at {self.where} has no index template "
                             f"{self.layout.posts}: run `yuqing es setup` first")
        index = self.layout.index(month)
        # Retention counts from the month's end, not from the day its index happened to be made.
        index_settings = {"index.lifecycle.origination_date": month_end(month)} if lifecycle else None
        try:
            self.client.indices.create(index=index, settings=index_settings)
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        months[month] = index
        return index

    def _stored_in(self, ids: list[str]) -> tuple[dict[str, str], dict[str, Correction]]:
        """Where each of these posts lives already (id → index): an update goes there, whatever its time now;
        and the analysts' corrections of them, which an update keeps."""
        found = self.client.search(index=self.layout.posts, query={"ids": {"values": ids}}, size=2 * len(ids),
                                   source=["correction"], ignore_unavailable=True)
        hits = found["hits"]["hits"]
        return ({hit["_id"]: hit["_index"] for hit in hits},
                {hit["_id"]: Correction.model_validate(hit["_source"]["correction"])
                 for hit in hits if hit.get("_source", {}).get("correction")})

    # ---- writing ----
    def _writable(self) -> IndexGrams:
        if self.readonly or self.grams is None:
            raise StoreError(f"the store at {self.where} was opened read-only")
        return self.grams

    def _action(self, index: str, post: Post) -> dict[str, Any]:
        """Writes the post, unless the cluster holds a later crawl of it: its version is when it was crawled, so
        a stale write (a request that a frozen cluster carries out after the client gave up and sent it again,
        or an older copy from `yuqing es migrate`) leaves the newer one in place."""
        return {"_op_type": "index", "_index": index, "_id": post.id, "_source": document(post, self._writable()),
                "version": max(0, int(post.crawled_at.timestamp() * 1000)), "version_type": "external_gte"}

    def upsert(self, posts: Iterable[Post]) -> UpsertResult:
        self._writable()
        batch = list({p.id: p for p in posts}.values())  # the last version of a post in one batch wins
        result = UpsertResult()
        with self._said():
            for start in range(0, len(batch), _BATCH):
                self._upsert(batch[start:start + _BATCH], result)
        return result

    def _upsert(self, batch: list[Post], result: UpsertResult) -> None:
        for post in batch:
            if len(post.id.encode("utf-8")) > _ID_BYTES:
                result.failed[post.id] = f"its id is longer than {_ID_BYTES} bytes, the most Elasticsearch takes"
        batch = [p for p in batch if p.id not in result.failed]
        if not batch:
            return
        stored, corrections = self._stored_in([p.id for p in batch])
        batch = keep_corrections(batch, corrections)
        months = self._known_months()
        actions = [self._action(stored.get(p.id) or self._month_index(months, month_of(p.time)), p) for p in batch]
        later: dict[str, str] = {}
        for ok, item in streaming_bulk(self.client, actions, chunk_size=_BATCH, max_retries=_RETRIES,
                                       initial_backoff=_BACKOFF, max_backoff=_MAX_BACKOFF, raise_on_error=False):
            outcome = item["index"]
            if ok:
                (result.inserted if outcome.get("result") == "created" else result.updated).append(outcome["_id"])
            elif outcome.get("status") == 409:  # a later crawl of it is stored already, and stays
                result.updated.append(outcome["_id"])
            elif outcome.get("status") == 400:  # this post can never be stored as it is: a value the mapping refuses
                result.failed[outcome["_id"]] = reason(outcome)
                log.warning("post %s not stored: %s", outcome["_id"], result.failed[outcome["_id"]])
            else:  # busy (429, after the retries), read-only, shards unavailable: it may pass later
                later[outcome["_id"]] = f"{outcome.get('status')} {reason(outcome)}"
        self.client.indices.refresh(index=sorted({a["_index"] for a in actions}))
        if later:
            post_id, why = next(iter(later.items()))
            raise StoreError(f"the Elasticsearch cluster at {self.where} refused {len(later)} of {len(batch)} posts "
                             f"for now (post {post_id}: {why}); they are stored when it takes them")

    def reindex(self, progress: Progress | None = None) -> int:
        """Rebuild every monthly index from its own documents into a new one made from the current template
        (after `yuqing es setup` changed it), then swap the alias to it and drop the old, one month at a time.

        The cluster is the record of truth: each new index must hold as many posts as the old one before the
        swap, else the new one is dropped and the old one kept."""
        self._writable()
        with self._said():
            total = self.client.count(index=self.layout.posts, ignore_unavailable=True)["count"]
            done = 0
            for month, old in sorted(self._known_months().items()):
                done = self._rebuild(month, old, done, total, progress)
        return done

    def _rebuild(self, month: str, old: str, done: int, total: int, progress: Progress | None) -> int:
        _, generation = self.layout.parse(old) or (month, 1)
        new = self.layout.index(month, generation + 1)
        held = self.client.indices.get_settings(index=old, name="index.lifecycle.origination_date").body
        origination = held.get(old, {}).get("settings", {}).get("index", {}).get("lifecycle", {})
        index_settings = {"index.lifecycle.origination_date": origination["origination_date"]} if origination else None
        self.client.options(ignore_status=404).indices.delete(index=new)  # left by a rebuild that was cut short
        self.client.indices.create(index=new, settings=index_settings, aliases={})
        # Made from the template, the new index joins the alias at once: take it out until it is complete.
        self.client.indices.update_aliases(actions=[{"remove": {"index": new, "alias": self.layout.posts}}])
        copied = 0
        for posts in self._scan(old):
            actions = [self._action(new, p) for p in posts]
            for ok, item in streaming_bulk(self.client, actions, chunk_size=_BATCH, max_retries=_RETRIES,
                                           initial_backoff=_BACKOFF, max_backoff=_MAX_BACKOFF, raise_on_error=False):
                if not ok:
                    self.client.indices.delete(index=new)
                    raise StoreError(f"rebuilding {old} stopped: post {item['index']['_id']} was refused "
                                     f"({reason(item['index'])}); {old} is kept as it was")
            copied += len(posts)
            done += len(posts)
            if progress:
                progress(done, total)
        self.client.indices.refresh(index=new)
        before, after = (self.client.count(index=name)["count"] for name in (old, new))
        if after != before:
            self.client.indices.delete(index=new)
            raise StoreError(f"rebuilding {old} gave {after} posts instead of {before}; {old} is kept as it was")
        self.client.indices.update_aliases(actions=[{"add": {"index": new, "alias": self.layout.posts}},
                                                    {"remove_index": {"index": old}}])
        log.info("rebuilt %s as %s: %d posts", old, new, copied)
        return done

    def _scan(self, index: str, query: dict[str, Any] | None = None) -> Iterator[list[Post]]:
        """Every (matching) post of one index, in batches, in id order (search_after: no scroll context to keep
        alive)."""
        after: list[Any] | None = None
        while True:
            found = self.client.search(index=index, size=_BATCH, sort=[{"id": "asc"}], search_after=after,
                                       query=query or {"match_all": {}}, ignore_unavailable=True)["hits"]["hits"]
            if not found:
                return
            yield [_post(hit["_source"]) for hit in found]
            after = found[-1]["sort"]

    # ---- reading ----
    def get(self, post_id: str) -> Post | None:
        with self._said():
            found = self.client.search(index=self.layout.posts, query={"ids": {"values": [post_id]}}, size=1,
                                       ignore_unavailable=True)["hits"]["hits"]
        return _post(found[0]["_source"]) if found else None

    def correct(self, post_id: str, correction: Correction) -> Post | None:
        grams = self._writable()
        with self._said():
            for _ in range(_CORRECT_TRIES):
                found = self.client.search(index=self.layout.posts, query={"ids": {"values": [post_id]}}, size=1,
                                           ignore_unavailable=True)["hits"]["hits"]
                if not found:
                    return None
                post = _post(found[0]["_source"])
                corrected = post.with_correction(correction.merged(post.correction))
                action = self._action(found[0]["_index"], corrected)
                try:  # the version is the crawl's: a later crawl written since refuses it, and is corrected instead
                    self.client.index(index=action["_index"], id=post_id, document=document(corrected, grams),
                                      version=action["version"], version_type="external_gte", refresh=True)
                except ConflictError:
                    continue
                return corrected
        raise StoreError(f"post {post_id} was rewritten {_CORRECT_TRIES} times while it was being corrected; "
                         "try again")

    def corrections(self) -> Iterator[Post]:
        with self._said():
            for posts in self._scan(self.layout.posts, {"exists": {"field": "correction.by"}}):
                yield from posts

    def search(self, query: SearchQuery) -> SearchResult:
        with self._said():
            total, hits = self._page(self.layout.posts, dsl.query(query), _SORTS[query.sort], query.offset, query.limit)
        return SearchResult(total=total, posts=[_post(hit["_source"]) for hit in hits])

    def _page(self, index: str, body: dict[str, Any], sort: list[dict[str, str]], offset: int, limit: int
              ) -> tuple[int, list[dict[str, Any]]]:
        common = {"index": index, "query": body, "sort": sort, "ignore_unavailable": True}
        if offset + limit <= _WINDOW:
            found = self.client.search(**common, from_=offset, size=limit, track_total_hits=True)["hits"]
            return found["total"]["value"], found["hits"]
        # Past the window: walk there in pages (the ones before `offset` without their documents).
        total = self.client.count(index=index, query=body, ignore_unavailable=True)["count"]
        hits: list[dict[str, Any]] = []
        after: list[Any] | None = None
        seen = 0
        while seen < offset + limit:
            skipping = seen < offset
            size = min(_WINDOW, (offset - seen) if skipping else (offset + limit - seen))
            page = self.client.search(**common, size=size, search_after=after, track_total_hits=False,
                                      source=not skipping)["hits"]["hits"]
            if not page:
                break
            if not skipping:
                hits += page
            seen += len(page)
            after = page[-1]["sort"]
        return total, hits

    def count(self, query: SearchQuery) -> int:
        with self._said():
            return self.client.count(index=self.layout.posts, query=dsl.query(query), ignore_unavailable=True)["count"]

    def _terms(self, query: SearchQuery, field: str, size: int) -> list[tuple[str, int]]:
        """Exact counts, most first (ties by key). A terms aggregation is exact when no shard cut its list at
        `shard_size`; fewer buckets than that in the merged answer proves it, whatever the cluster says of its
        own error. Else ask again with shards sending more, and past the cluster's bucket limit page through
        every value with a composite aggregation."""
        if size <= 0:
            return []
        body = dsl.query(query)
        cut = max(_SHARD_SIZE, 2 * size)
        with self._said():
            while cut <= _MAX_BUCKETS:
                found = self._aggregate(body, {"terms": {"field": field, "size": cut, "shard_size": cut}})
                if len(found["buckets"]) < cut:
                    return [(b["key"], b["doc_count"]) for b in found["buckets"][:size]]
                cut *= 8
            counts = self._every_term(body, field)
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]

    def _aggregate(self, body: dict[str, Any], aggregation: dict[str, Any]) -> dict[str, Any]:
        found = self.client.search(index=self.layout.posts, query=body, size=0, ignore_unavailable=True,
                                   aggs={"a": aggregation}).body
        return found.get("aggregations", {}).get("a", {"buckets": []})

    def _every_term(self, body: dict[str, Any], field: str) -> dict[str, int]:
        return {bucket["key"]["k"]: bucket["doc_count"] for bucket in self._every_bucket(body, field)}

    def _every_bucket(self, body: dict[str, Any], field: str, aggs: dict[str, Any] | None = None
                      ) -> Iterator[dict[str, Any]]:
        """Every value of `field` among the matching posts (a composite aggregation, page by page), with `aggs`."""
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": _COMPOSITE_PAGE, "sources": [{"k": {"terms": {"field": field}}}]}
            if after:
                composite["after"] = after
            found = self._aggregate(body, {"composite": composite, **({"aggs": aggs} if aggs else {})})
            yield from found["buckets"]
            after = found.get("after_key")
            if not found["buckets"] or not after:
                return

    def top_keywords(self, query: SearchQuery, size: int = 20) -> list[tuple[str, int]]:
        return self._terms(query, "keywords", size)

    def breakdown(self, query: SearchQuery, field: Breakdown, size: int = 20) -> list[tuple[str, int]]:
        # A post without a region holds "" there, which the embedded store does not count: neither is counted.
        found = self._terms(query, _BREAKDOWN_FIELDS[field], size + (field == "region"))
        return [(key, n) for key, n in found if key][:size]

    def top_authors(self, query: SearchQuery, size: int = 10) -> list[AuthorReach]:
        """store.base.post_reach summed, as the sum of each of its parts (the documents keep no reach of their own)."""
        parts = {f"p{i}": {"sum": {"field": field}} for i, field in enumerate(_REACH_FIELDS)}
        with self._said():
            found = [AuthorReach(b["key"]["k"], b["doc_count"], int(sum(b[p]["value"] or 0 for p in parts)))
                     for b in self._every_bucket(dsl.query(query), "author.name", parts) if b["key"]["k"]]
        return sorted(found, key=lambda a: (-a.reach, -a.posts, a.name))[:size]

    def volume(self, query: SearchQuery, interval: Interval = "hour") -> list[VolumeBucket]:
        step = {"fixed_interval": "10m"} if interval == "10min" else {"calendar_interval": interval}
        histogram = {"field": "time", **step, "time_zone": "Asia/Shanghai", "min_doc_count": 1}
        sentiment = {"terms": {"field": "sentiment.label", "size": 10, "missing": "unknown"}}
        with self._said():
            found = self._aggregate(dsl.query(query), {"date_histogram": histogram, "aggs": {"s": sentiment}})
        counts = {bucket["key"] // 1000: {s["key"]: s["doc_count"] for s in bucket["s"]["buckets"]}
                  for bucket in found["buckets"] if bucket["doc_count"]}
        return volume_buckets(counts, query, interval)

    # ---- events: one index, each event a document replaced as it grows ----
    def upsert_events(self, events: Iterable[Event]) -> None:
        batch = list({e.id: e for e in events}.values())
        if not batch:
            return
        self._writable()
        with self._said():
            if not self._events_index:
                if not self.client.indices.exists(index=self.layout.events):  # else a write would make it unmapped
                    raise StoreError(f"the Elasticsearch cluster at {self.where} has no index {self.layout.events}: "
                                     "run `yuqing es setup` first")
                self._events_index = True
            # A version from the time it was taken: a late or repeated write never undoes a newer one.
            actions = [{"_op_type": "index", "_index": self.layout.events, "_id": e.id,
                        "_source": e.model_dump(mode="json"), "version": max(0, epoch_ms(e.updated_at)),
                        "version_type": "external_gte"} for e in batch]
            refused: dict[str, str] = {}
            for ok, item in streaming_bulk(self.client, actions, chunk_size=_BATCH, max_retries=_RETRIES,
                                           initial_backoff=_BACKOFF, max_backoff=_MAX_BACKOFF, raise_on_error=False):
                outcome = item["index"]
                if not ok and outcome.get("status") != 409:  # 409: a newer version is stored already
                    refused[outcome["_id"]] = f"{outcome.get('status')} {reason(outcome)}"
            self.client.indices.refresh(index=self.layout.events)
        if refused:
            event_id, why = next(iter(refused.items()))
            raise StoreError(f"the Elasticsearch cluster at {self.where} refused {len(refused)} of {len(batch)} "
                             f"events (event {event_id}: {why})")

    def get_event(self, event_id: str) -> Event | None:
        with self._said():
            found = self.client.search(index=self.layout.events, query={"ids": {"values": [event_id]}}, size=1,
                                       ignore_unavailable=True)["hits"]["hits"]
        return Event.model_validate(found[0]["_source"]) if found else None

    def events(self, query: EventQuery) -> list[Event]:
        filters: list[dict[str, Any]] = [
            {"range": {"last_seen": {operator: epoch_ms(moment), "format": "epoch_millis"}}}
            for operator, moment in last_seen_bounds(query, now())]
        if query.scheme:
            filters.append({"term": {"schemes": query.scheme}})
        with self._said():
            _, hits = self._page(self.layout.events, {"bool": {"filter": filters}}, _EVENT_SORTS[query.sort],
                                 query.offset, query.limit)
        return [Event.model_validate(hit["_source"]) for hit in hits]

    # ---- alerts: copies of the alert state's, for Kibana ----
    def upsert_alerts(self, alerts: Iterable[AlertCopy]) -> dict[str, str]:
        batch = list({a.key: a for a in alerts}.values())
        if not batch:
            return {}
        if self.readonly:
            raise StoreError(f"the store at {self.where} was opened read-only")
        with self._said():
            if not self._alerts_template:
                if not has_template(self.client, self.layout.alerts):  # else a write would make an unmapped index
                    raise StoreError(f"the Elasticsearch cluster at {self.where} has no index template "
                                     f"{self.layout.alerts}: run `yuqing es setup` first")
                self._alerts_template = True
            actions = [{"_op_type": "index", "_index": self.layout.alerts_index(a.fields["created_at"]),
                        "_id": alert_id(a.key), "_source": alert_document(a), "version": a.revision,
                        "version_type": "external_gte"} for a in batch]
            refused: dict[str, str] = {}
            keys = {alert_id(a.key): a.key for a in batch}
            for ok, item in streaming_bulk(self.client, actions, chunk_size=_BATCH, max_retries=_RETRIES,
                                           initial_backoff=_BACKOFF, max_backoff=_MAX_BACKOFF, raise_on_error=False):
                outcome = item["index"]
                if not ok and outcome.get("status") != 409:  # 409: a newer revision is stored already
                    refused[keys[outcome["_id"]]] = f"{outcome.get('status')} {reason(outcome)}"
            self.client.indices.refresh(index=self.layout.alerts)
        return refused

    # ---- the cluster itself ----
    def check(self) -> None:
        timeout = min(_CHECK_TIMEOUT, self.section.request_timeout)
        with self._said(timeout):
            self.client.options(request_timeout=timeout, max_retries=0).count(
                index=self.layout.posts, ignore_unavailable=True)

    def health(self) -> Health:
        try:
            with self._said():
                status = self.client.cluster.health()["status"]
                lifecycle = template_lifecycle(self.client, self.layout)
                months = sorted(self._known_months())
                posts = self.client.count(index=self.layout.posts, ignore_unavailable=True)["count"]
        except StoreError as exc:
            return Health(False, str(exc))
        if lifecycle is None:
            return Health(False, f"cluster {status}, but no index template {self.layout.posts}: run `yuqing es setup`")
        span = f" ({months[0]} … {months[-1]})" if len(months) > 1 else f" ({months[0]})" if months else ""
        return Health(status != "red", f"cluster {status}; {posts:,} posts in {len(months)} monthly indices{span}")

    def close(self) -> None:
        self.client.close()
