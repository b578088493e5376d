"""The `yuqing` command."""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

import settings as config
from dashboards.web.roles import ROLES

if TYPE_CHECKING:
    from alerts.state import Backlog

EXIT_CONFIG = 2


class _Command(click.Group):
    """Turns configuration and store mistakes into one clear line and exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from alerts.state import AlertStateError
        from alerts.tokens import SecretError
        from store.base import StoreError
        from yuqing.lock import StoreBusy

        try:
            return super().invoke(ctx)
        except config.ConfigError as exc:
            click.echo(f"yuqing: config error: {exc}", err=True)
            sys.exit(EXIT_CONFIG)
        except StoreError as exc:
            click.echo(f"yuqing: store error: {exc}", err=True)
            sys.exit(1)
        except (StoreBusy, AlertStateError, SecretError) as exc:
            click.echo(f"yuqing: {exc}", err=True)
            sys.exit(1)


config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="TOML configuration (default: $YUQING_CONFIG or ./yuqing.toml).",
)


def _warn(message: str) -> None:
    click.echo(f"yuqing: warning: {message}", err=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


@click.group(cls=_Command)
@click.version_option(package_name="yuqing")
def main() -> None:
    """yuqing: public-opinion monitoring and early warning (舆情监测预警)."""


def _collect_by_batch() -> None:
    """For a process that analyses posts in batches. A batch's posts live for the whole batch, so under the default
    threshold (700 new objects) they outlive young collections and pile up in the oldest generation, whose every
    collection walks the whole analysis state (events, the duplicate index) again: a fifth of `yuqing analyze`'s
    time, a tenth of ingest's. The analysis makes few cycles."""
    gc.set_threshold(50_000, 10, 10)


@main.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def run(config_file: Path | None, verbose: bool) -> None:
    """Crawl, analyse, alert and serve the dashboard until Ctrl-C."""
    from dashboards.web.app import ListenError
    from yuqing.service import Service, run_forever

    settings = config.load(config_file, required=True, warn=_warn)
    _logging(verbose)
    _collect_by_batch()
    service = Service(settings, config.config_path(config_file))
    banner = f"yuqing: {len(settings.sources)} sources, dashboard at {service.dashboard_url} (Ctrl-C stops)"
    try:
        run_forever(service, banner)  # the dashboard's port is bound before its address is printed
    except ListenError as exc:
        raise config.ConfigError(str(exc)) from None


@main.command()
@click.argument("source")
@config_option
def crawl(source: str, config_file: Path | None) -> None:
    """Crawl one source now, then ingest and evaluate alerts."""
    from yuqing.service import Service

    settings = config.load(config_file, required=True)
    settings.source(source)
    _logging(False)
    _collect_by_batch()
    service = Service(settings, config.config_path(config_file))
    try:
        outcome = service.crawl(source)
    finally:
        service.stop()
    click.echo(f"{source}: {outcome.message}")
    sys.exit(0 if outcome.ok else 1)


@main.command()
@config_option
def reindex(config_file: Path | None) -> None:
    """Rebuild the search index (progress on stderr).

    Embedded store: from the SQLite record of truth. Elasticsearch: each monthly index from its own documents
    into a new one made from the current template (after `yuqing es setup` changed it), then the alias moves."""
    from tqdm import tqdm

    from analysis.grams import index_grams
    from store import open_store
    from yuqing.lock import StoreLock

    settings = config.load(config_file)
    with (StoreLock(settings.data_dir), open_store(settings.store, grams=index_grams, repair=False) as store,
          tqdm(unit=" posts", file=sys.stderr) as bar):
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        count = store.reindex(progress)
    click.echo(f"reindexed {count} posts")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
def status(fmt: str, config_file: Path | None) -> None:
    """The store's backend and health, and what waits in the crawl spool. Exit code 1 when the store is unwell."""
    from store import open_store
    from store.base import Health, StoreError
    from yuqing.ingest import spool_depth

    settings = config.load(config_file)
    section = settings.store
    where = str(section.path)
    if section.backend == "elasticsearch":
        from store.elastic.client import shown

        where = f"{shown(section.url)}, index prefix {section.index_prefix}"
    try:
        with open_store(section, readonly=True) as store:
            health = store.health()
    except StoreError as exc:
        health = Health(False, str(exc))
    spool = settings.data_dir / "spool"
    files, posts = spool_depth(spool)
    backlog, alerts_said = _alert_backlog(settings)
    if fmt == "json":
        click.echo(json.dumps({"backend": section.backend, "where": where, "ok": health.ok, "health": health.summary,
                               "spool": {"folder": str(spool), "files": files, "posts": posts},
                               "alerts": {"ok": backlog is not None, "said": alerts_said,
                                          **(dataclasses.asdict(backlog) if backlog else {})}}, ensure_ascii=False))
    else:
        click.echo(f"store:  {section.backend} ({where})")
        click.echo(f"health: {'ok' if health.ok else 'FAILING'}: {health.summary}")
        click.echo(f"spool:  {_count(files, 'file')}, {_count(posts, 'post')} waiting in {spool}" if files
                   else f"spool:  empty ({spool})")
        click.echo(f"alerts: {alerts_said}")
    sys.exit(0 if health.ok and backlog is not None else 1)


def _alert_backlog(settings: config.Settings) -> tuple[Backlog | None, str]:
    """The alert state's backlog (None when it cannot be read), and what to say of it."""
    from alerts import state as alert_state

    if not alert_state.AlertState.made_for(settings):
        return alert_state.Backlog(0, 0, 0, 0), "no alert state yet (the service makes it)"
    try:
        state = alert_state.AlertState.for_settings(settings)
    except alert_state.AlertStateError as exc:
        return None, f"FAILING: {exc}"
    try:
        backlog = state.backlog()
    finally:
        state.close()
    said = [f"{_count(backlog.pending, 'mail')} waiting in the outbox"
            + (f" ({backlog.failing} failed at least once)" if backlog.failing else "")]
    if backlog.held:
        said.append(f"{backlog.held} held for the quiet hours")
    if settings.store.backend == "elasticsearch":  # the embedded store takes no copies
        said.append(f"{_count(backlog.unsynced, 'alert change')} waiting to be copied to the cluster")
    return backlog, ", ".join(said)


@main.group()
def es() -> None:
    """The Elasticsearch store: set up the cluster, copy an embedded store into it."""


def _elastic(config_file: Path | None) -> config.Settings:
    settings = config.load(config_file)
    if settings.store.backend != "elasticsearch":
        raise config.ConfigError(f"[store] backend is {settings.store.backend!r}: `yuqing es` works on an "
                                 "Elasticsearch store; set backend = \"elasticsearch\" and url in [store]")
    return settings


@es.command("setup")
@config_option
def es_setup(config_file: Path | None) -> None:
    """Create or update the index templates (strict mappings, alias), the events index and the ILM policy; a
    second run changes nothing and says so."""
    from store.elastic.client import connect, said, shown
    from store.elastic.layout import describe, setup

    section = _elastic(config_file).store
    where = shown(section.url)
    with connect(section) as client, said(where, section.request_timeout):
        click.echo(f"cluster: {describe(client)} at {where}")
        steps = setup(client, section)
    for step in steps:
        click.echo(f"{step.what}: {step.outcome}" + (f" ({step.detail})" if step.detail else ""))
    click.echo("changed: " + ", ".join(s.what for s in steps if s.changed) if any(s.changed for s in steps)
               else "nothing to change: the cluster is set up as this configuration says")


@es.command("migrate")
@click.option("--from", "source", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the embedded store to copy (the one holding posts.db).")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
@click.option("--restart", is_flag=True, help="Copy everything again, not from where the last run stopped.")
@config_option
def es_migrate(source: Path, batch_size: int, restart: bool, config_file: Path | None) -> None:
    """Copy the posts of an embedded store into the cluster, with progress; run it again after an interruption
    and it goes on from the last batch copied (or later, to copy what the embedded store got since). Events and
    the alerts (for Kibana's alerts panels) follow, all of them each run."""
    from tqdm import tqdm

    from alerts.copies import publish
    from alerts.state import AlertState
    from analysis.grams import index_grams
    from store import open_store
    from store.base import SearchQuery, StoreError
    from yuqing.lock import StoreLock
    from yuqing.migrate import Checkpoint, copy_events, copy_posts

    settings = _elastic(config_file)
    if not (source / "posts.db").is_file():
        raise click.UsageError(f"{source} holds no posts.db: give the folder of an embedded store ([store] path)")
    checkpoint = Checkpoint.for_copy(settings.data_dir, source, settings.store)
    if restart:
        checkpoint.clear()
    with (StoreLock(settings.data_dir), open_store(source, readonly=True) as embedded,
          open_store(settings.store, grams=index_grams) as cluster):
        total = embedded.exportable(checkpoint.position)  # type: ignore[attr-defined]
        if checkpoint.copied:
            click.echo(f"going on after {checkpoint.copied:,} posts copied before", err=True)
        with tqdm(total=total, unit=" posts", file=sys.stderr) as bar:
            try:
                outcome = copy_posts(embedded, cluster, checkpoint, batch_size, bar.update)  # type: ignore[arg-type]
            except StoreError as exc:
                raise StoreError(f"{exc}. {checkpoint.copied:,} posts are copied; run the same command again to "
                                 "go on from there") from None
        events = copy_events(embedded, cluster, batch_size)  # type: ignore[arg-type]
        state = AlertState.for_settings(settings)
        try:  # every alert, whatever was copied before: each is one document by its key, the newest revision kept
            alerts_copied = publish(state, cluster, everything=True)
        finally:
            state.close()
        held = cluster.count(SearchQuery())
    click.echo(f"copied {outcome.copied:,} posts ({outcome.inserted:,} new, {outcome.updated:,} updated"
               + (f", {len(outcome.failed):,} refused: {_first(outcome.failed)}" if outcome.failed else "")
               + f"); the cluster holds {held:,} posts; copied {_count(events, 'event')} and "
               + _count(alerts_copied, "alert"))
    sys.exit(1 if outcome.failed else 0)


def _count(number: int, thing: str) -> str:
    return f"{number:,} {thing}{'' if number == 1 else 's'}"


def _first(failed: dict[str, str]) -> str:
    post_id, why = next(iter(failed.items()))
    return f"post {post_id}: {why}"


@main.command("check-config")
@config_option
def check_config(config_file: Path | None) -> None:
    """Read the configuration and report problems (exit code 2 if any); warn of unwise settings."""
    settings = config.load(config_file, required=True, warn=_warn)
    click.echo(
        f"ok: {len(settings.schemes)} schemes, {len(settings.sources)} sources, "
        f"{len(settings.alerts.rules)} alert rules"
    )


# `-word` excludes a word: unknown "options" are query terms, not mistakes.
@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1, type=click.UNPROCESSED)
@click.option("--since", help="Only posts from this time on: 30m, 24h, 7d, 1w, today, yesterday, 14:00, "
                              "2026-11-30 or '2026-11-30 14:00'.")
@click.option("--until", help="Only posts up to this time (a day: to its end); as --since.")
@click.option("--sentiment", type=click.Choice(["positive", "neutral", "negative"]))
@click.option("--source", help="Only this source (its configured name).")
@click.option("--scheme", help="Only posts matching this watch scheme (its configured name).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.option("--sort", type=click.Choice(["time", "relevance"]), default="time", show_default=True,
              help="relevance: posts where a query word is a word of its own first, then by how often it appears.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--ascii-headers", is_flag=True,
              help="CSV for scripts: English column names and stored values (negative, forum) instead of Chinese.")
@config_option
def search(query: tuple[str, ...], since: str | None, until: str | None, sentiment: str | None, source: str | None,
           scheme: str | None, limit: int, sort: str, fmt: str, ascii_headers: bool, config_file: Path | None) -> None:
    """Search stored posts; an empty query lists the newest.

    \b
    words, ANDed, each found anywhere in the title or text:  北辰 异味
        (北辰 finds 北辰燃料乙醇, 臭 finds 很臭, 惡臭 finds 恶臭)
    a phrase (spaces and punctuation in it are not compared):  '"北辰 回应"'
    exclude:  -招聘  '-"招聘 启事"'
    either (binds tighter than the space):  异味 投诉 OR 举报 = 异味 (投诉 OR 举报)
    parentheses, and AND / NOT written out:  '(投诉 OR 举报) NOT 招聘'
    in the title or the author's name only:  title:恶臭  author:李明  'title:"环境局 回应"'
        'title:(恶臭 OR 异味)'  -title:转
    the field has exactly this value:  source:NAME  scheme:NAME  platform:forum
        sentiment:negative  tier:individual  region:北京  keyword:异味

    Latin words and numbers match whole (iphone finds iPhone15, iph does not). Quote for the shell what it
    would change (quotes, parentheses), and quote text with a colon in it. A query that cannot be read is an
    error naming its column (exit code 2). Without --config, $YUQING_CONFIG or ./yuqing.toml, the store of a
    demo run in this folder (var/demo/yuqing.toml) is searched.
    """
    from analysis.tokens import Tokenizer
    from models import now
    from store import open_store
    from store.base import SearchQuery, StoreError
    from store.query import QueryError
    from yuqing import results
    from yuqing.demo import demo_config
    from yuqing.search import outlet_names, query_parser, search_config, unknown_name

    config_file, note = search_config(config_file)
    if note:
        _warn(note)
    settings = config.load(config_file)
    for field, name in (("source", source), ("scheme", scheme)):
        if problem := unknown_name(settings, field, name):
            _usage_error(problem)
    at = now()
    since_time, until_time = _moment("since", since, at), _moment("until", until, at)
    if since_time and until_time and since_time > until_time:
        _usage_error(f"--since {since} ({since_time:%Y-%m-%d %H:%M}) is after --until {until} "
                     f"({until_time:%Y-%m-%d %H:%M}): nothing can match")
    typed = " ".join(query)
    parse = query_parser(settings, Tokenizer(t for s in settings.schemes for t in s.terms()).tokenize)
    try:
        text = parse(typed)
    except QueryError as exc:
        _usage_error(f"query error at column {exc.position + 1} of {typed!r}: {exc}")
    try:
        with open_store(settings.store, readonly=True) as store:  # never waits for, or disturbs, a running service
            result = store.search(SearchQuery(text=text, since=since_time, until=until_time, sentiment=sentiment,
                                              source=source, scheme=scheme, limit=limit, sort=sort))  # type: ignore[arg-type]
    except StoreError as exc:
        if config_file is None:  # no configuration found, not even a demo's: say how to name one
            raise StoreError(f"{exc}; or give --config FILE (a demo's is {demo_config()})") from None
        raise
    outlet = outlet_names(settings)
    if fmt == "csv":
        results.write_csv(result, outlet, sys.stdout.buffer, ascii_headers=ascii_headers)
    elif fmt == "json":
        results.write_json(result, outlet, sys.stdout)
    else:
        results.print_posts(result, outlet)


def _usage_error(message: str) -> NoReturn:
    click.echo(f"yuqing: {message}", err=True)
    sys.exit(EXIT_CONFIG)


def _moment(option: str, value: str | None, at: datetime) -> datetime | None:
    """When `--since` or `--until` VALUE is; a value that says no time is a one-line usage error."""
    from yuqing.search import moment

    if not value:
        return None
    try:
        return moment(value, at, end=option == "until")
    except ValueError as exc:
        _usage_error(f"--{option} {exc}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@config_option
def sources(fmt: str, config_file: Path | None) -> None:
    """Health of each configured source: status, error class, last success, items per run."""
    from alerts.state import AlertState
    from alerts.health import SourceHealthLog
    from models import now

    settings = config.load(config_file, required=True)
    state = AlertState.for_settings(settings)
    try:
        rows = SourceHealthLog(state.engine).report(settings.sources, now())
    finally:
        state.close()
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    colours = {"ok": "green", "empty": "yellow", "failing": "yellow", "blocked": "red", "silent": "red"}
    table = Table(header_style="bold")
    for name in ("source", "status", "error", "last success", "last attempt", "failures", "items per run", "last run"):
        table.add_column(name, overflow="fold", max_width=40 if name == "last run" else None)
    for row in rows:
        table.add_row(row["source"], f"[{colours.get(row['status'], 'white')}]{row['status']}[/]",
                      row["error_class"] or "", _short_time(row["last_success"]), _short_time(row["last_attempt"]),
                      str(row["consecutive_failures"]), " ".join(map(str, row["items"][-10:])), row["message"])
    Console().print(table)


def _short_time(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%m-%d %H:%M") if iso else "never"


@main.command()
@click.argument("target")
@click.option("--source", "source_name",
              help="Read the page as this source does: a site's selectors (the generic extractor fills the rest), "
                   "or a platform or feed source's spider (the posts a results or list page yields).")
@config_option
def extract(target: str, source_name: str | None, config_file: Path | None) -> None:
    """What the extractor gets from one page (a file, or a URL fetched as the crawler would), as JSON."""
    from crawlers.extract import extract_article
    from crawlers.spiders.site import article_fields

    source = config.load(config_file, required=True).source(source_name) if source_name else None
    if source and source.type != "site":
        _extract_posts(target, source, config_file)
        return
    page = _page(target, source.headers if source else {})
    article = extract_article(page.text, page.url)
    if source:
        article.update(article_fields(source, page, lambda url, why: click.echo(f"{url}: {why}", err=True)))
    published = article["published_at"]
    article["published_at"] = published.isoformat() if published else None
    click.echo(json.dumps({key: article[key] for key in ("title", "published_at", "author", "source", "content")},
                          ensure_ascii=False, indent=2))


def _extract_posts(target: str, source: Any, config_file: Path | None) -> None:
    """The source's spider's reading of one page: its posts, further pages and breakage; exit 1 when the page
    yields no post and the spider met breakage (a layout it no longer reads)."""
    from scrapy.http import HtmlResponse
    from scrapy.responsetypes import responsetypes

    from crawlers.middlewares import decoded
    from crawlers.probe import read_page

    logging.basicConfig(level=logging.WARNING, format="%(message)s")  # the spider's warnings name the page
    cookies = "; ".join(f"{name}={value}" for name, value in source.cookies.items())
    body, url, content_type = _fetch(target, {**source.headers, **({"Cookie": cookies} if cookies else {})})
    headers = {"Content-Type": content_type} if content_type else {}
    response = responsetypes.from_args(headers=headers, url=url, body=body)(url=url, body=body, headers=headers)
    reading = read_page(source.name, config.config_path(config_file),
                        decoded(response) if isinstance(response, HtmlResponse) else response)
    click.echo(json.dumps({"source": source.name, "items": reading.items, "pages": reading.pages,
                           "dropped": reading.dropped, **reading.breakage}, ensure_ascii=False, indent=2))
    if not reading.items and reading.breakage["error_class"]:
        click.echo(f"yuqing: {target}: no posts; {reading.breakage['error_class']} breakage "
                   f"at {reading.breakage['error_url']}", err=True)
        sys.exit(1)


def _fetch(target: str, headers: dict[str, str]) -> tuple[bytes, str, str]:
    """The body, address and content type of a file or a URL (fetched with the crawler's User-Agent)."""
    import urllib.request

    if target.startswith(("http://", "https://")):
        request = urllib.request.Request(target, headers={"User-Agent": config.USER_AGENT, **headers})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.read(config.DOWNLOAD_MAXSIZE), answer.geturl(), answer.headers.get("Content-Type", "")
        except OSError as exc:
            raise click.ClickException(f"cannot fetch {target}: {exc}") from None
    path = Path(target)
    if not path.is_file():
        raise click.ClickException(f"{target}: no such file (give a file or an http(s) URL)")
    return path.read_bytes(), path.resolve().as_uri(), ""


def _page(target: str, headers: dict[str, str]) -> Any:
    """An HtmlResponse of a file or a URL, decoded as the crawler decodes pages."""
    from scrapy.http import HtmlResponse

    from crawlers.middlewares import decoded

    body, url, content_type = _fetch(target, headers)
    headers_out = {"Content-Type": content_type} if content_type else {}
    return decoded(HtmlResponse(url=url, body=body, headers=headers_out))


@main.command()
@click.option("--in", "source", type=click.File("r", encoding="utf-8", errors="replace"), default="-",
              show_default=True, help="JSONL input, one object a line with `text` or `title` + `content`.")
@click.option("--out", "target", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@click.option("--events", "events", type=click.File("w", encoding="utf-8"), default=None,
              help="Also write the events (title, keywords, first post and poster, counts, growth) as JSONL here.")
@config_option
def analyze(source: Any, target: Any, events: Any, config_file: Path | None) -> None:
    """Add sentiment, keywords, simhash, duplicates (and matched schemes, with a config) to JSONL posts.

    Optional input fields make events, hot terms and risk exact: published_at (ISO 8601), author (a name, or
    {name, followers}), source_tier, metrics ({reposts, comments, likes}).

    A line that cannot be read (not a JSON object, or nested too deeply) is reported with its number and
    skipped; a byte-order mark is ignored. Of a text longer than 100,000 characters only the first and the
    last 50,000 are analysed: the line gets "truncated": true (false otherwise) and a warning names the
    post and its length."""
    _collect_by_batch()
    from analysis.pipeline import Analyzer
    from analysis.stream import analyze_stream

    settings = config.load(config_file)
    logging.basicConfig(format="%(message)s")  # a post analysed in part is reported on stderr, like bad lines
    written, skipped = analyze_stream(source, target, Analyzer.from_settings(settings),
                                      with_schemes=bool(settings.schemes), events=events)
    click.echo(f"analysed {written} posts, skipped {skipped} lines", err=True)


@main.command("build-idf")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="JSONL files (or folders of them) with `text`, or `title` + `content`. Repeatable.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="IDF table to write (.tsv.gz).")
def build_idf(data: tuple[Path, ...], out: Path) -> None:
    """Build the IDF table that weighs keywords, from posts like the ones you watch."""
    from analysis.idf import build, read_texts
    from analysis.tokens import Tokenizer

    try:
        table = build(read_texts(data), Tokenizer())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if not table.idf:
        raise click.ClickException("no terms found in two or more documents; give it more posts")
    table.save(out)
    click.echo(f"{len(table.idf)} terms from {table.documents} documents; median IDF {table.default:.2f}; wrote {out}", err=True)


@main.command("train-sentiment")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="JSONL files (or folders of them) with `text` and `label` (positive/neutral/negative). Repeatable.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Model folder to write.")
@click.option("--extra", "extra", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="More labelled rows of another kind (e.g. binary reviews), JSONL files or folders: they join the "
                   "fit at --extra-weight each, never the held-out tenth. Repeatable.")
@click.option("--extra-weight", type=click.FloatRange(min=0), default=None,
              help="What an --extra row weighs against a --data row (default: the weight the shipped model is built "
                   "with; the trainer says which).")
@click.option("--with-corrections", is_flag=True,
              help="Add the store's corrections (yuqing label, the dashboard's post pages) and write a report.")
@click.option("--correction-weight", type=click.IntRange(1, 1000),
              help="How many corpus rows one correction counts as (default: [analysis] correction_weight).")
@click.option("--dev", type=click.Path(exists=True, path_type=Path),
              help="With --with-corrections: JSONL dev sets (a folder or a file) to compare the models on.")
@config_option
def train_sentiment(data: tuple[Path, ...], out: Path, extra: tuple[Path, ...], extra_weight: float | None,
                    with_corrections: bool, correction_weight: int | None, dev: Path | None,
                    config_file: Path | None) -> None:
    """Train the sentiment model on labelled posts, e.g. your analysts' own.

    With --with-corrections, the analysts' corrections in the store join the rows, weighing more than corpus
    rows; the report (printed, and kept beside the model as corrections-report.txt and .json) gives the dev
    sets' figures before (the model in use) and after, how many corrected posts each model gets right, and
    exclude terms suggested for schemes whose posts were marked not relevant (not applied)."""
    from analysis.sentiment import Featurizer, read_rows
    from analysis.tokens import Tokenizer
    from analysis.train_sentiment import train

    settings = config.load(config_file)
    if (correction_weight or dev) and not with_corrections:
        _usage_error("--correction-weight and --dev go with --with-corrections")
    try:
        rows = read_rows(data)
        extra_rows = read_rows(extra)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    labels = {label for _, label in rows}
    if len(labels) < 3:
        raise click.ClickException(f"need rows of all three labels (positive, neutral, negative); found {sorted(labels)}")
    progress = lambda m: click.echo(m, err=True)  # noqa: E731
    training: dict[str, Any] = {"extra": extra_rows}
    if extra_weight is not None:
        training["extra_weight"] = extra_weight
    if not with_corrections:
        tokenizer = Tokenizer(t for s in settings.schemes for t in s.terms())
        started = time.perf_counter()
        train(rows, out, Featurizer(tokenizer), progress=progress, **training)
        click.echo(f"trained in {time.perf_counter() - started:.0f} s", err=True)
        return
    from yuqing.retrain import NoCorrections, retrain

    try:
        report = retrain(settings, rows, out, weight=correction_weight or settings.analysis.correction_weight,
                         dev=dev, progress=progress, **training)
    except NoCorrections as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.text(), nl=False)


_RELEVANT = {"yes": True, "no": False}


@main.command()
@click.argument("post_id")
@click.option("--sentiment", help="What the post's sentiment is: negative, neutral or positive.")
@click.option("--relevant", help="yes, or no: the post is not about the enterprise (it leaves every watch scheme).")
@click.option("--by", "who", help="Who corrects (default: your login name).")
@click.option("--note", default="", help="Why, in a few words; kept with the correction.")
@config_option
def label(post_id: str, sentiment: str | None, relevant: str | None, who: str | None, note: str,
          config_file: Path | None) -> None:
    """Correct a stored post's sentiment, or mark it as not about the enterprise.

    The correction replaces the model's verdict everywhere (dashboard, search, reports, alert rules) at once,
    is kept with who made it, when and what the model said, and stays when the post is crawled again.
    What a correction leaves open, an earlier correction of the post still says. Embedded store: while the
    service runs, correct from the dashboard's post page instead."""
    from pydantic import ValidationError

    from analysis.grams import index_grams
    from analysis.sentiment import LABELS
    from models import Correction, now
    from store import open_store
    from yuqing.lock import StoreBusy, StoreLock

    if sentiment is None and relevant is None:
        _usage_error("say what to correct: --sentiment negative|neutral|positive and/or --relevant yes|no")
    if sentiment is not None and sentiment not in LABELS:
        _usage_error(f"--sentiment must be one of {', '.join(LABELS)}, not {sentiment!r}")
    if relevant is not None and relevant not in _RELEVANT:
        _usage_error(f"--relevant must be yes or no, not {relevant!r}")
    try:
        correction = Correction(sentiment=sentiment, relevant=None if relevant is None else _RELEVANT[relevant],  # type: ignore[arg-type]
                                by=who if who is not None else _who(), at=now(), note=note)
    except ValidationError as exc:
        error = exc.errors()[0]
        _usage_error(f"--{error['loc'][0]}: {error['msg']}")
    settings = config.load(config_file)
    lock = StoreLock(settings.data_dir) if settings.store.backend == "embedded" else None
    try:
        if lock is not None:  # the embedded store takes one writing process: a running service is it
            lock.acquire()
    except StoreBusy as exc:
        click.echo(f"yuqing: {exc}; while the service runs, correct the post from the dashboard's post page "
                   f"({settings.dashboard.url.rstrip('/')}/posts/{post_id})", err=True)
        sys.exit(1)
    try:
        with open_store(settings.store, grams=index_grams) as store:
            post = store.correct(post_id, correction)
    finally:
        if lock is not None:
            lock.release()
    if post is None:
        _usage_error(f"no post {post_id!r} in the store (`yuqing search` shows posts' ids with --format json)")
    click.echo(_corrected(post))


def _corrected(post: Any) -> str:
    """What a correction made of the post, on one line."""
    from alerts.labels import SENTIMENT_LABELS

    c = post.correction
    said = SENTIMENT_LABELS[c.model.label] if c.model else SENTIMENT_LABELS["unknown"]
    parts = [f"{post.id} 已更正（{c.by}）：情感 {SENTIMENT_LABELS[post.sentiment.label] if post.sentiment else '未分析'}"
             f"（模型判断 {said}）"]
    if c.relevant is False:
        left = "、".join(m.name for m in c.schemes)
        parts.append("与本企业无关" + (f"，已移出监测方案 {left}" if left else ""))
    elif c.relevant:
        parts.append("与本企业相关")
    return "；".join(parts)


@main.group()
def kibana() -> None:
    """Kibana dashboards over the Elasticsearch store."""


@kibana.command("install")
@click.option("--url", help="Kibana's address, with its base path if any (default: [kibana] url).")
@click.option("--space", help="Id of the Kibana space to install into (default: [kibana] space, \"default\").")
@click.option("--api-key", help="An API key's encoded value; safer in YUQING_KIBANA__API_KEY than here.")
@click.option("--prefix", help="Index prefix of the Elasticsearch store: the data views read PREFIXposts-* and "
              "PREFIXalerts-* (default: [store] index_prefix, \"yuqing-\").")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the NDJSON to this file instead (to import by hand: Stack Management > Saved objects).")
@config_option
def kibana_install(url: str | None, space: str | None, api_key: str | None, prefix: str | None, out: Path | None,
                   config_file: Path | None) -> None:
    """Install the 舆情总览 dashboard, its panels, data views and saved search into Kibana 8.9 or later.

    Objects already there with the same ids are replaced, so running it again is harmless. Credentials come
    from YUQING_KIBANA__API_KEY (or --api-key), else YUQING_KIBANA__USERNAME and YUQING_KIBANA__PASSWORD
    (also `[kibana]` in the configuration, where check-config warns of them).
    """
    from dashboards.kibana.install import KibanaError, check_prefix, dashboard_url, install, ndjson

    settings = config.load(config_file)
    try:
        payload = ndjson(check_prefix(prefix or settings.store.index_prefix))
    except ValueError as exc:
        raise config.ConfigError(f"--prefix: {exc}") from None
    if out:
        out.write_bytes(payload)
        click.echo(f"wrote {len(payload.splitlines())} saved objects to {out}")
        return
    target = settings.kibana.with_options(url=url, space=space, api_key=api_key)
    try:
        count = install(target, payload)
    except KibanaError as exc:
        click.echo(f"yuqing: kibana: {exc}", err=True)
        sys.exit(1)
    click.echo(f"installed {count} saved objects into Kibana at {target.url} (space {target.space}); "
               f"the dashboard: {dashboard_url(target)}")


@main.group()
def alerts() -> None:
    """List, show and act on alerts: acknowledge, assign, resolve, reopen, note; migrate the alert state."""


def _alert_state(config_file: Path | None) -> Any:
    from alerts.state import AlertState

    return AlertState.for_settings(config.load(config_file, required=True))


def _alert_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=lambda v: v.isoformat())


@alerts.command("list")
@click.option("--state", "state_name", type=click.Choice(["open", "acknowledged", "resolved"]))
@click.option("--scheme", help="Only alerts of this watch scheme.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@config_option
def alerts_list(state_name: str | None, scheme: str | None, limit: int, fmt: str, config_file: Path | None) -> None:
    """Alerts, most recently changed first."""
    from alerts.labels import SEVERITY_LABELS, STATE_LABELS

    state = _alert_state(config_file)
    try:
        rows = state.list_alerts(state=state_name, scheme=scheme, limit=limit)
    finally:
        state.close()
    if fmt == "json":
        click.echo(_alert_json(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for name in ("id", "severity", "state", "scheme", "title", "posts", "updated", "assignee"):
        table.add_column(name, overflow="fold", max_width=50 if name == "title" else None)
    for row in rows:
        table.add_row(str(row["id"]), SEVERITY_LABELS[row["severity"]], STATE_LABELS[row["state"]], row["scheme"],
                      row["title"], str(len(row["post_ids"])), f"{row['updated_at']:%m-%d %H:%M}",
                      row["assignee"] or "")
    Console().print(table)


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@config_option
def alerts_show(alert_id: int, fmt: str, config_file: Path | None) -> None:
    """One alert, its reasons, and every change to it."""
    from alerts.labels import HISTORY_LABELS, SEVERITY_LABELS, STATE_LABELS

    state = _alert_state(config_file)
    try:
        alert, steps = state.get(alert_id), state.history(alert_id)
    finally:
        state.close()
    if alert is None:
        click.echo(f"yuqing: 没有编号为 {alert_id} 的预警", err=True)
        sys.exit(EXIT_CONFIG)
    if fmt == "json":
        click.echo(_alert_json({**alert, "history": steps}))
        return
    stamp = "%Y-%m-%d %H:%M"
    lines = [f"#{alert['id']} [{SEVERITY_LABELS[alert['severity']]}] {STATE_LABELS[alert['state']]}  {alert['title']}",
             f"scheme: {alert['scheme']}   event: {alert['event_id'] or '-'}   posts: {len(alert['post_ids'])}",
             f"opened: {alert['created_at']:{stamp}}   updated: {alert['updated_at']:{stamp}}",
             f"assignee: {alert['assignee'] or '-'}   acknowledged by: {alert['acknowledged_by'] or '-'}   "
             f"escalation level: {alert['escalation_level']}",
             f"link: {alert['url']}", "reasons:"]
    lines += [f"  {r['title']}: {r['reason']}" for r in alert["reasons"]]
    lines.append("history:")
    lines += [f"  {h['at']:{stamp}}  {h['who']}  {HISTORY_LABELS.get(h['action'], h['action'])}"
              + "".join(f"  {part}" for part in (h["detail"], h["note"]) if part) for h in steps]
    click.echo("\n".join(lines))


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in this environment (a container's numeric user)
        return "cli"


def _alert_action(action: str, alert_id: int, note: str, who: str | None, config_file: Path | None,
                  assignee: str | None = None) -> None:
    from alerts.labels import ACTION_LABELS, STATE_LABELS
    from alerts.state import AlertActionError
    from models import now

    state = _alert_state(config_file)
    try:
        alert = state.act(alert_id, action, who or _who(), now(), note=note, assignee=assignee)
    except AlertActionError as exc:
        click.echo(f"yuqing: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    finally:
        state.close()
    click.echo(f"#{alert_id} {ACTION_LABELS[action]}: {STATE_LABELS[alert['state']]}"
               + (f", {alert['assignee']}" if action == "assign" else ""))


_note = click.option("--note", default="", help="Words kept with this change in the alert's history.")
_who_option = click.option("--who", help="Who acts (default: your login name).")


@alerts.command("ack")
@click.argument("alert_id", type=int)
@_note
@_who_option
@config_option
def alerts_ack(alert_id: int, note: str, who: str | None, config_file: Path | None) -> None:
    """Acknowledge: someone is on it (stops escalation)."""
    _alert_action("ack", alert_id, note, who, config_file)


@alerts.command("assign")
@click.argument("alert_id", type=int)
@click.argument("assignee")
@_note
@_who_option
@config_option
def alerts_assign(alert_id: int, assignee: str, note: str, who: str | None, config_file: Path | None) -> None:
    """Give the alert to ASSIGNEE."""
    _alert_action("assign", alert_id, note, who, config_file, assignee=assignee)


@alerts.command("resolve")
@click.argument("alert_id", type=int)
@_note
@_who_option
@config_option
def alerts_resolve(alert_id: int, note: str, who: str | None, config_file: Path | None) -> None:
    """Resolve: handled (new posts of its event reopen it)."""
    _alert_action("resolve", alert_id, note, who, config_file)


@alerts.command("reopen")
@click.argument("alert_id", type=int)
@_note
@_who_option
@config_option
def alerts_reopen(alert_id: int, note: str, who: str | None, config_file: Path | None) -> None:
    """Reopen a resolved alert."""
    _alert_action("reopen", alert_id, note, who, config_file)


@alerts.command("note")
@click.argument("alert_id", type=int)
@click.argument("note")
@_who_option
@config_option
def alerts_note(alert_id: int, note: str, who: str | None, config_file: Path | None) -> None:
    """Add a note to the alert's history."""
    _alert_action("note", alert_id, note, who, config_file)


@alerts.command("migrate")
@click.option("--from", "source", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The alerts.db to copy from; kept (one of an older shape is first upgraded, as `run` would).")
@config_option
def alerts_migrate(source: Path, config_file: Path | None) -> None:
    """Copy an alerts.db whole into the alert state [alerts] state_url names (PostgreSQL), ids kept, in one
    transaction; only into an empty state, while the service is stopped."""
    from contextlib import closing

    from alerts.state import AlertState
    from alerts.transfer import TransferRefused, copy_state, open_source
    from yuqing.lock import StoreBusy, StoreLock

    settings = config.load(config_file, required=True)
    if not settings.alerts.state_url:
        raise TransferRefused("[alerts] state_url is not set, so the alert state is alerts.db in the data folder; "
                              "set state_url (its password in YUQING_ALERTS__STATE_PASSWORD) to the database to "
                              "copy into")
    try:
        lock = StoreLock(settings.data_dir).acquire()
    except StoreBusy as exc:
        raise TransferRefused(f"{exc}; the service must not run while its alert state is copied") from None
    try:
        with closing(open_source(source)) as old, \
                closing(AlertState.for_settings(settings)) as new:
            copied = copy_state(old, new)
            where = new.engine.url  # its password masked
    finally:
        lock.release()
    click.echo(f"copied into {where}: " + ", ".join(f"{n:,} {table}" for table, n in copied.items()))
    click.echo(f"next: start the service (yuqing run); it keeps its alerts there now. {source} is left as it is.")


@main.command()
@click.option("--port", type=int, default=8000, show_default=True, help="Dashboard port.")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Play the incident faster (2 = twice).")
@click.option("-v", "--verbose", is_flag=True)
def demo(port: int, speed: float, verbose: bool) -> None:
    """A live demo: a local news site and forum unfold an incident; yuqing watches and alerts."""
    from yuqing.demo import VAR
    from yuqing.demo.runner import run_demo

    _logging(verbose)
    if not verbose:
        for noisy in ("apscheduler", "uvicorn", "jieba", "mail.log", "yuqing.ingest"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    run_demo(VAR, dashboard_port=port, speed=speed)


@main.group()
def users() -> None:
    """Dashboard accounts (roles viewer < analyst < officer < admin). With none, the dashboard is open and
    listens on a loopback address only."""


def _accounts(config_file: Path | None) -> Any:
    from dashboards.web.accounts import Accounts

    return Accounts.for_data_dir(config.load(config_file).data_dir)


def _account_change(change: Any) -> None:
    """Runs a change to the accounts; one that cannot be made is said on one line (exit 2)."""
    from dashboards.web.accounts import AccountError

    try:
        change()
    except AccountError as exc:
        click.echo(f"yuqing: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _new_password() -> str:
    """Asked twice at a terminal; from a script, the first line of stdin."""
    if sys.stdin.isatty():
        return click.prompt("password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@config_option
def users_add(name: str, role: str, config_file: Path | None) -> None:
    """Open an account; the password is asked twice (or read from stdin)."""
    accounts = _accounts(config_file)
    try:
        _account_change(lambda: accounts.add(name, role, _new_password(), by=f"cli:{_who()}"))
    finally:
        accounts.close()
    click.echo(f"account {name} ({role}) added")


@users.command("passwd")
@click.argument("name")
@config_option
def users_passwd(name: str, config_file: Path | None) -> None:
    """Set an account's password (its sessions end)."""
    accounts = _accounts(config_file)
    try:
        if accounts.get(name) is None:  # said before a password is asked for
            click.echo(f"yuqing: no account {name!r}", err=True)
            sys.exit(EXIT_CONFIG)
        _account_change(lambda: accounts.set_password(name, _new_password(), by=f"cli:{_who()}"))
    finally:
        accounts.close()
    click.echo(f"password of {name} changed; its sessions are ended")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@config_option
def users_role(name: str, role: str, config_file: Path | None) -> None:
    """Change an account's role."""
    accounts = _accounts(config_file)
    try:
        _account_change(lambda: accounts.set_role(name, role, by=f"cli:{_who()}"))
    finally:
        accounts.close()
    click.echo(f"{name} is now {role}")


@users.command("remove")
@click.argument("name")
@config_option
def users_remove(name: str, config_file: Path | None) -> None:
    """Remove an account (its sessions end)."""
    accounts = _accounts(config_file)
    try:
        _account_change(lambda: accounts.remove(name, by=f"cli:{_who()}"))
        left = accounts.count()
    finally:
        accounts.close()
    click.echo(f"account {name} removed" + ("" if left else "; no accounts remain: the dashboard is open again, "
                                             "on a loopback address only"))


@users.command("list")
@config_option
def users_list(config_file: Path | None) -> None:
    """The accounts, their roles and when each was opened and last changed."""
    accounts = _accounts(config_file)
    try:
        rows = accounts.listing()
    finally:
        accounts.close()
    if not rows:
        click.echo("no accounts: the dashboard is open, on a loopback address only")
    for row in rows:
        click.echo(f"{row['name']:<20} {row['role']:<8} added {row['created_at']:%Y-%m-%d %H:%M}  "
                   f"changed {row['changed_at']:%Y-%m-%d %H:%M}")


def _report_day(value: str) -> datetime | None:
    """A --day/--week value: empty (the flag alone) is None, the last complete period; else a date."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a date like 2026-03-01, or nothing for the last one") from None


@main.command()
@click.option("--day", "day", is_flag=False, flag_value="", default=None, metavar="[DATE]",
              help="The briefing of a day (YYYY-MM-DD); alone: yesterday.")
@click.option("--week", "week", is_flag=False, flag_value="", default=None, metavar="[DATE]",
              help="The briefing of the week (Monday to Sunday) holding DATE; alone: last week.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default=None,
              help="Default: pdf when --out ends in .pdf, else html. A PDF is printed by Chromium.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default: yuqing-day-DATE.html or .pdf here).")
@click.option("--scheme", help="Only posts matching this watch scheme (default: [reports] scheme, else every post).")
@config_option
def report(day: str | None, week: str | None, fmt: str | None, out: Path | None, scheme: str | None,
           config_file: Path | None) -> None:
    """Write the daily or weekly briefing (舆情日报 / 周报): figures against the period before, the trend, top
    events, negative posts by reach, sources and tiers, hot terms, alerts raised and handled."""
    from alerts.state import AlertState
    from models import now
    from reports.period import Period
    from reports.render import ReportError, html, pdf
    from store import open_store
    from yuqing.briefing import briefing, file_name, write
    from yuqing.search import outlet_names, search_config, unknown_name

    if (day is None) == (week is None):
        raise click.UsageError("give one of --day [DATE] or --week [DATE]")
    config_file, note = search_config(config_file)
    if note:
        _warn(note)
    settings = config.load(config_file)
    scheme = scheme if scheme is not None else settings.reports.scheme or None
    if problem := unknown_name(settings, "scheme", scheme):
        click.echo(f"yuqing: {problem}", err=True)
        sys.exit(EXIT_CONFIG)
    kind = "day" if day is not None else "week"
    chosen = _report_day(day if day is not None else week or "")
    moment = now()
    period = Period.of(kind, chosen.date()) if chosen else Period.last_complete(kind, moment)
    fmt = fmt or ("pdf" if out is not None and out.suffix.lower() == ".pdf" else "html")
    out = out or Path(file_name(period, fmt))
    with open_store(settings.store, readonly=True) as store:  # first: a store not there yet leaves no alerts.db
        state = AlertState.for_settings(settings)
        try:
            made = briefing(store, state, period, moment, scheme, outlet_names(settings))
        finally:
            state.close()
    page = html(made)
    try:
        content = pdf(page, settings.reports.chromium) if fmt == "pdf" else page.encode("utf-8")
        write(out, content)
    except ReportError as exc:
        click.echo(f"yuqing: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"yuqing: cannot write {out}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    posts = made.headline[0]
    click.echo(f"{period.title} {period.label}: {int(posts.current)} posts → {out}")


if __name__ == "__main__":
    main()
