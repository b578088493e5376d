"""The running service: APScheduler crawls each source on its interval (one subprocess per crawl, so a
crash or hang of one never takes down the rest), ingests what they spooled, evaluates the alert rules
every minute and after every ingest, and serves the built-in dashboard. Alert mail goes out on a thread
of its own, so a mail server that hangs holds up neither crawling nor alerting.

A service holds the store's lock (yuqing.lock) from start to stop: one writer per store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

import settings as config
from alerts.engine import AlertEngine
from alerts.evidence import EvidenceLocker, EvidenceQueue
from alerts.labels import ACTION_LABELS, HISTORY_LABELS, PLATFORM_LABELS, SEVERITY_LABELS, STATE_LABELS, TIER_LABELS
from alerts.state import AlertState
from alerts.statement import StatementWriter
from alerts.tokens import Signer
from analysis.grams import index_grams
from analysis.pipeline import Analyzer
from crawlers.breakage import PARSE, TIMEOUT
from crawlers.run import crawl_command
from dashboards.web.accounts import Accounts
from dashboards.web.app import DashboardServer, create_app, serve
from dashboards.web.auth import SignInPolicy, exposure_error
from store import open_store
from store.base import StoreError
from alerts.health import CRAWL_FAILED, Run, SourceHealthLog
from yuqing.briefing import Briefings
from yuqing.ingest import Ingester
from yuqing.lock import StoreLock
from yuqing.search import outlet_names, query_parser
from models import SHANGHAI, Event, now

log = logging.getLogger(__name__)

CRAWL_TIMEOUT = 15 * 60


@dataclass
class CrawlOutcome:
    source: str
    ok: bool
    items: int
    message: str
    known: int = 0
    error_class: str | None = None
    url: str = ""  # the page read: the one that did not parse, else the first that answered


class Courier:
    """Empties the outbox in rounds: every `every` seconds, and when woken after new alerts."""

    def __init__(self, engine: AlertEngine, every: float, deadline: float) -> None:
        self.engine = engine
        self.every = every
        self.deadline = deadline
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # One round at a time: two rounds reading the same due rows would send each mail twice.
        self._round = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="courier", daemon=True)
        self._wake.set()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def round(self) -> int:
        try:
            with self._round:
                return self.engine.deliver(deadline=time.monotonic() + self.deadline, cancel=self._stop)
        except Exception:
            log.exception("delivery round failed; the outbox keeps its mail for the next")
            return 0

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.every)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.round()

    def stop(self) -> None:
        """Waits for the message being sent, if any; the rest stays in the outbox."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class Service:
    def __init__(self, settings: config.Settings, config_path: Path | None, lock: StoreLock | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.data_dir = settings.data_dir
        self.lock = lock or StoreLock(self.data_dir).acquire()
        try:
            self._open()
        except BaseException:
            self.lock.release()
            raise
        # One writer at a time: ingest and alert evaluation share the store and the alert state.
        self._write_lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._dashboard: DashboardServer | None = None
        # Crawls under way, so that stopping the service stops them too instead of waiting for them.
        self._children: set[subprocess.Popen[str]] = set()
        self._children_lock = threading.Lock()
        self._stopping = threading.Event()

    def _open(self) -> None:
        self.spool_dir = self.data_dir / "spool"
        self.store = open_store(self.settings.store, grams=index_grams)
        self.analyzer = Analyzer.from_settings(self.settings)
        self.ingester = Ingester(self.spool_dir, self.analyzer, self.store)
        try:  # the events under way before a restart: later posts join them
            self.ingester.restore()
        except StoreError as exc:
            log.warning("stored events not read (%s); ingest reads them before its first batch", exc)
        self.alert_state = AlertState.for_settings(self.settings)
        self.evidence = EvidenceQueue.for_settings(self.settings)
        if self.evidence is not None:
            self.evidence.start()  # one-off commands open alerts too
        self.engine = AlertEngine(self.settings, self.store, self.alert_state, evidence=self.evidence)
        self.statement = StatementWriter(self.store, self.settings.alerts.statement_template,
                                         self.settings.alerts.contact)
        self.courier = Courier(self.engine, self.settings.alerts.evaluate_every, self.settings.alerts.delivery_deadline)
        self.health = SourceHealthLog(self.alert_state.engine)
        self.briefings = Briefings(self.settings, self.store, self.alert_state)

    # ---- the three jobs ----
    def crawl(self, source_name: str) -> CrawlOutcome:
        argv = crawl_command(source_name, self.config_path, self.spool_dir)
        started = time.monotonic()
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
            with self._children_lock:
                self._children.add(child)
            try:
                stdout, stderr = child.communicate(timeout=CRAWL_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate()
                outcome = CrawlOutcome(source_name, False, 0, f"timed out after {CRAWL_TIMEOUT}s", error_class=TIMEOUT)
            else:
                done = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
                outcome = self._outcome(source_name, done)
            finally:
                with self._children_lock:
                    self._children.discard(child)
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(level, "crawl %s: %s (%.1fs)", source_name, outcome.message, time.monotonic() - started)
        if self._stopping.is_set():
            return outcome  # cut short by the stop, not broken: its health record stays as it was
        with self._write_lock:
            self.health.record(source_name, Run(outcome.items, outcome.known, outcome.error_class, outcome.message,
                                                outcome.url), now())
        self.process()
        return outcome

    @staticmethod
    def _outcome(source: str, done: subprocess.CompletedProcess[str]) -> CrawlOutcome:
        summary: dict = {}
        for line in reversed(done.stdout.splitlines()):
            if line.startswith("{"):
                try:
                    summary = json.loads(line)
                    break
                except ValueError:
                    continue
        items, known = int(summary.get("items", 0)), int(summary.get("known", 0))
        error_class = summary.get("error_class")
        url = (summary.get("error_url") if error_class == PARSE else summary.get("page_url")) or ""
        if done.returncode == 0:
            return CrawlOutcome(source, True, items, f"{items} items, {summary.get('finish_reason', 'finished')}",
                                known, error_class, url)
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return CrawlOutcome(source, False, items, reason[:500], known, error_class or CRAWL_FAILED, url)

    def process(self) -> None:
        """Ingest whatever is spooled, then alert on it. Failures are logged; the spool keeps the data."""
        with self._write_lock:
            stored = True
            try:
                report = self.ingester.run()
                if report.inserted or report.rejected:
                    log.info("ingest: %d posts (%d new, %d rejected) from %d files",
                             report.posts, len(report.inserted), report.rejected, report.files)
            except StoreError as exc:
                stored = False
                log.warning("ingest stopped: %s; spooled posts wait for the next run", exc)
            except Exception:
                log.exception("ingest failed; spooled posts stay for the next run")
            try:
                # Post rules read what was crawled since their last run: run while posts still wait in the spool
                # for the store (one that reads but refuses writes), they would move past those posts for good.
                created = self.engine.evaluate() if stored else self.engine.evaluate_sources(now())
            except Exception:
                log.exception("alert evaluation failed; it runs again at the next tick")
                created = []
        if self.courier.running:
            if created:
                self.courier.wake()
        else:
            self.courier.round()  # a one-off command (`yuqing crawl`) sends its mail before it exits
        # After the mail: a cluster that is down must not hold it up. People's moves on the dashboard and the
        # command line reach the store here too, within a tick. (Two rounds at once would write the same copies.)
        self.engine.publish()

    # ---- lifecycle ----
    def start(self, dashboard: bool = True) -> None:
        scheduler = BackgroundScheduler(
            timezone=SHANGHAI, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
        )
        if dashboard:  # first: a dashboard that cannot listen stops the start before anything is scheduled
            self._dashboard = self._serve_dashboard()
        first = now()
        for source in self.settings.sources:
            if source.enabled:
                scheduler.add_job(
                    self.crawl, "interval", seconds=source.interval, args=[source.name],
                    id=f"crawl:{source.name}", next_run_time=first,
                )
        scheduler.add_job(
            self.process, "interval", seconds=self.settings.alerts.evaluate_every, id="alerts", next_run_time=first
        )
        if self.settings.reports.daily or self.settings.reports.weekly:  # each minute: a briefing due is mailed once
            scheduler.add_job(lambda: self.briefings.check(now()), "interval", seconds=60, id="reports",
                              next_run_time=first)
        self.courier.start()  # before the jobs: their first run wakes it rather than delivering by itself
        scheduler.start()
        self._scheduler = scheduler

    def _serve_dashboard(self) -> DashboardServer:
        board = self.settings.dashboard
        accounts = Accounts.for_data_dir(self.data_dir)
        if problem := exposure_error(board.host, accounts):
            accounts.close()
            raise config.ConfigError(problem)
        app = create_app(
            self.store,
            self.alert_state.recent_alerts,
            query_parser(self.settings, self.analyzer.tokenize),
            allowed_hosts=self.settings.dashboard.hosts,
            refresh_seconds=self.settings.dashboard.refresh,
            source_health=lambda: self.health.report(self.settings.sources, now()),
            saved_searches=self.settings.data_dir / "saved-searches.json",
            watch_terms=self._watch_keywords(),
            **alert_desk(self.alert_state, self.engine.signer, self.statement,
                         EvidenceLocker.for_settings(self.settings).files, names_for_people(self.settings)),
            accounts=accounts, sign_in=SignInPolicy(board.session_idle, board.session_lifetime, board.secure_cookie),
            configuration=lambda: config.masked(self.settings),
            outlets=outlet_names(self.settings),
        )
        self._accounts = accounts
        try:
            return serve(app, board.host, board.port)
        except BaseException:
            accounts.close()
            raise

    def _watch_keywords(self) -> list[str]:
        """The schemes' terms as keywords are stored: one token each, the tokenizer has them in its dictionary."""
        tokens = (self.analyzer.tokenize(term) for scheme in self.settings.schemes for term in scheme.terms())
        return [words[0] for words in tokens if len(words) == 1]

    @property
    def dashboard_url(self) -> str:
        return self.settings.dashboard.url

    def stop(self) -> None:
        self._stopping.set()
        with self._children_lock:
            for child in self._children:
                child.terminate()  # Scrapy stops cleanly on SIGTERM; what it spooled is ingested next start
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.courier.stop()
        if self.evidence is not None:
            self.evidence.stop()  # the capture under way ends; pages still waiting keep their text and a note
        if self._dashboard is not None:
            self._dashboard.stop()
            self._dashboard = None
            self._accounts.close()
        with self._write_lock:
            self.ingester.store_events()  # what a failed store left waiting: the next start continues from it
            self.store.close()
            self.alert_state.close()
        self.lock.release()


def names_for_people(settings: config.Settings) -> dict[str, dict[str, str]]:
    """The configured schemes' and rules' titles, by name: what the dashboard shows for them."""
    return {"scheme": {s.name: s.title for s in settings.schemes if s.title},
            "rule": {r.name: r.title for r in settings.alerts.rules if r.title}}


def alert_desk(state: AlertState, signer: Signer, statement: Callable[[dict[str, Any]], str],
               evidence: Callable[[int], list[tuple[str, Path]]],
               named: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The dashboard's alert callables (create_app's keyword arguments), over the alert state and link signer;
    `named`: more labels by kind (names_for_people)."""

    # A refused move (AlertActionError) and a bad link (TokenError) are ValueErrors, as the dashboard expects.
    def act(alert_id: int, action: str, who: str, note: str, assignee: str | None) -> dict[str, Any]:
        return state.act(alert_id, action, who, now(), note, assignee)

    def verify(token: str) -> tuple[int, str, str]:
        grant = signer.verify(token, now())
        return grant.alert_id, grant.action, grant.who

    def event_alerts(event: Event) -> list[dict[str, Any]]:
        # An event's alert is one per scheme it belongs to, keyed as the engine keys it.
        return list(state.by_keys(f"event:{scheme}:{event.id}" for scheme in event.schemes).values())

    return {
        "alert_view": state.get, "alert_list": state.list_alerts, "alert_history": state.history,
        "alert_act": act, "verify_token": verify, "statement": statement, "evidence": evidence,
        "event_alerts": event_alerts, "newest_alerts": state.of_events, "alert_count": state.count_since,
        "labels": {"severity": SEVERITY_LABELS, "state": STATE_LABELS, "action": ACTION_LABELS,
                   "history": HISTORY_LABELS, "tier": TIER_LABELS, "platform": PLATFORM_LABELS, **(named or {})},
        # From the link secret: forms opened before a restart still post after it.
        "form_key": hmac.new(signer.secret, b"dashboard forms", hashlib.sha256).digest(),
    }


def run_forever(service: Service, banner: str) -> None:
    """Run until Ctrl-C / SIGTERM, then stop cleanly. The banner is printed once the service runs; a service that
    cannot start (its dashboard port taken) is stopped and the error raised."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = False
    try:
        service.start()
        started = True
        print(banner, flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if started:
            print("stopping…", file=sys.stderr)
        service.stop()
