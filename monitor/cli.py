"""The `monitor` command."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import backtest
from monitor.config import (
    ConsoleConfig,
    EmailConfig,
    Settings,
    SourceConfig,
    StoreConfig,
    load_settings,
    parse_duration,
)
from monitor.demo import bundled_feeds, serve
from monitor.errors import ConfigError, MonitorError, RuleErrors
from monitor.eventlog import active_silences, add_silence, event_detail
from monitor.logs import protect, redact, setup_logging
from monitor.models import SEVERITIES, Article, SourceState
from monitor.notify.render import plain
from monitor.rules import Matcher, load_rules
from monitor.rules.model import Rule, RuleSet
from monitor.rules.stages import StageScanner
from monitor.store import Store, open_store, stored_articles
from monitor.webdata import EventFilter, event_page

if TYPE_CHECKING:
    from monitor.daemon import App
    from monitor.web import WebServer

log = logging.getLogger("monitor")
EXIT_USAGE = 2  # a bad config or rule set: fix the input, then run again


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose or args.command == "run"
                  else logging.WARNING, getattr(args, "log_format", "text"))
    if args.verbose < 2:  # the scheduler logs every job run at INFO; our own cycle summary says more
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"monitor: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except RuleErrors as exc:
        print(f"monitor: the rules do not load ({len(exc.errors)} errors):\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except MonitorError as exc:
        print(f"monitor: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="TOML config (default: $MONITOR_CONFIG, else defaults)")
    common.add_argument("--rules", metavar="DIR", help="rules directory (default: rules_dir, ./rules, shipped pack)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    common.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="log lines as text (default) or one JSON object a line")

    parser = argparse.ArgumentParser(prog="monitor", description="Sanctions and military-cooperation event monitor.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: object, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    run = command("run", _run, "run the daemon: poll every source on its interval and deliver alerts")
    run.add_argument("--web-port", type=int, metavar="N", help="also serve the web view on port N ([web] host)")
    run.add_argument("--health-port", type=int, metavar="N", help="serve /healthz and /metrics (Prometheus) on port N")
    run.add_argument("--health-host", default="127.0.0.1", metavar="HOST",
                     help="the address for --health-port (default 127.0.0.1; 0.0.0.0 in a container)")
    command("once", _once, "poll every source once, deliver the alerts, exit")
    demo = command("demo", _demo, "serve the bundled sample feeds on loopback and run one cycle (no network)")
    demo.add_argument("--format", choices=["text", "jsonl"], default="text", help="console output format")
    demo.add_argument("--web", action="store_true", help="then serve the web view of the results on 127.0.0.1 "
                      "until Ctrl-C")
    demo.add_argument("--web-port", type=int, default=8080, metavar="N", help="the port for --web (default 8080; "
                      "0: any free port)")
    web = command("web", _web, "serve the read-only web view of the store (events, sources, rules)")
    web.add_argument("--host", help="address to bind (default: [web] host, 127.0.0.1)")
    web.add_argument("--port", type=int, help="port (default: [web] port, 8080; 0: any free port)")
    check = command("check", _check, "validate the config and the rules, and fetch every source once")
    check.add_argument("--offline", action="store_true", help="skip fetching the sources")
    command("sources", _sources, "the health of every source (ok, degraded, failing, stale), from the store")
    bt = command("backtest", _backtest, "replay articles from a JSONL file (or the store) through the rules")
    bt.add_argument("file", nargs="?", metavar="FILE.jsonl",
                    help="one article a line: id, url, title, text (+ published, ...)")
    bt.add_argument("--labels", action="store_true", help="score per-tag precision/recall against `labels`")
    bt.add_argument("--rule", action="append", metavar="ID", help="only this rule, even if disabled (repeatable)")
    bt.add_argument("--from-store", action="store_true", help="replay the articles stored by the daemon")
    bt.add_argument("--since", metavar="DATE", help="only articles published at or after DATE (ISO 8601)")
    bt.add_argument("--until", metavar="DATE", help="only articles published before DATE (ISO 8601)")
    bt.add_argument("--format", choices=["jsonl", "table"], default="jsonl",
                    help="jsonl: one line per match; table: hit counts per rule")
    _event_commands(commands, common)
    _lexicon_commands(commands, common)
    _delivery_commands(commands, common)
    rules = commands.add_parser("rules", help="rule tools").add_subparsers(dest="rules_command", required=True)
    rules_check = rules.add_parser("check", parents=[common], help="load the rules, report every error and lint "
                                   "issue, run the rules' examples")
    rules_check.add_argument("dir", nargs="?", help="rules directory (default as --rules)")
    rules_check.add_argument("--severity", choices=["error", "warning", "info"], default="info",
                             help="show lint issues of this severity and worse (default: all)")
    rules_check.set_defaults(handler=_rules_check)
    explain = rules.add_parser("explain", parents=[common], help="why a rule matches a text or does not")
    explain.add_argument("rule_id", metavar="RULE_ID")
    given = explain.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", help="the text to explain")
    given.add_argument("--file", help="a file holding the text")
    given.add_argument("--url", help="a web page to fetch and explain")
    explain.add_argument("--title", default="", help="the article's title")
    explain.add_argument("--language", help="the article's language (ISO 639-1), for `languages` and `lang:`")
    explain.add_argument("--source", default="explain", help="the source name, for a rule's `sources`")
    explain.set_defaults(handler=_rules_explain)
    return parser


def shipped_rules_dir() -> Path:
    """The rule pack installed with the package (the repository's `rules/`)."""
    return Path(str(resources.files("monitor.shipped_rules")))


def resolve_rules_dir(option: str | Path | None, settings: Settings) -> Path:
    """`--rules DIR`, else `rules_dir` from the config, else `./rules`, else the shipped pack."""
    if option:
        return Path(option)
    if settings.rules_dir:
        return settings.rules_dir
    local = Path("rules")
    return local if local.is_dir() else shipped_rules_dir()


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    protect(settings, os.environ)  # from here on, no log line or error message shows its secrets
    return settings


def _app(args: argparse.Namespace) -> App:
    # The daemon's stack (scheduler, HTTP) loads only for the commands that poll: backtest stays quick.
    from monitor.daemon import App

    settings = _settings(args)
    return App(settings, resolve_rules_dir(args.rules, settings))


def _run(args: argparse.Namespace) -> int:
    from monitor.daemon import run_daemon

    app = _app(args)
    if not app.sources:
        log.warning("no sources configured; copy config.example.toml and pass --config")
    server = _start_web(app.settings, app.store, lambda: app.matcher.compiled.ruleset, port=args.web_port) \
        if args.web_port is not None else None
    try:
        return run_daemon(app, health_port=args.health_port, health_host=args.health_host)
    finally:
        if server:
            server.stop()
        app.close()


def _once(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        reports = app.run_once()
    finally:
        app.close()
    for report in reports:
        print(report.summary(), file=sys.stderr)
    return 1 if reports and all(r.error for r in reports) else 0


def _demo(args: argparse.Namespace) -> int:
    from monitor.daemon import App

    feeds = bundled_feeds()
    rules_dir = Path(args.rules) if args.rules else shipped_rules_dir()
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp, serve(feeds) as base:
        settings = Settings(
            store=StoreConfig(url=f"sqlite:///{tmp}/demo.db"),
            sources=[SourceConfig(name=f"demo-{name}", url=f"{base}/{name}.xml") for name in feeds],
            notifiers=[ConsoleConfig(name="console", format=args.format)],
        )
        app = App(settings, rules_dir)
        try:
            reports = app.run_once()
            alerts = sum(len(r.alerts) for r in reports)
            print(f"demo: {len(feeds)} feeds served on loopback, {sum(r.items for r in reports)} articles, "
                  f"{alerts} alerts from {len(app.matcher.rules)} rules in {rules_dir}", file=sys.stderr)
            if args.web:
                _serve_until_stopped(_start_web(settings, app.store, lambda: app.matcher.compiled.ruleset, "127.0.0.1",
                                                args.web_port))
        finally:
            app.close()
    return 0


# --- the web view (issue 10) -----------------------------------------------------------------------

def _start_web(settings: Settings, store: Store, rules: Callable[[], RuleSet], host: str | None = None,
               port: int | None = None) -> WebServer:
    """The web view on (host, port), started; refuses (ConfigError, exit 2) to expose it without a login."""
    from monitor.web import WebContext, WebServer, check_exposure, create_app

    host = host or settings.web.host
    check_exposure(settings.web, host)
    fetch = (lambda url: _fetch_text(url, settings)) if settings.web.fetch_urls else None
    app = create_app(WebContext(settings, store, rules, fetch_text=fetch))
    try:
        server = WebServer(app, host, settings.web.port if port is None else port).start()
    except OSError as exc:
        raise ConfigError([f"web: cannot serve on {host}:{port}: {exc.strerror}; choose another --port"]) from None
    print(f"web view at {server.url}/", file=sys.stderr, flush=True)
    return server


def _serve_until_stopped(server: WebServer) -> None:
    """Block until Ctrl-C or SIGTERM, then stop the server."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _web(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from monitor.web import check_exposure

    check_exposure(settings.web, args.host or settings.web.host)  # before anything opens
    rules = load_rules(resolve_rules_dir(args.rules, settings))
    store = open_store(settings.store.url)
    try:
        _serve_until_stopped(_start_web(settings, store, lambda: rules, args.host, args.port))
    finally:
        store.close()
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rules_dir = resolve_rules_dir(args.rules, settings)
    ruleset = load_rules(rules_dir)
    from monitor.daemon import build_notifiers, check_source_kinds

    check_source_kinds(settings)
    build_notifiers(settings)  # every secret a notifier needs is in the environment
    print(f"config ok: {len(settings.sources)} sources, {len(settings.notifiers)} notifiers")
    print(f"rules ok: {len(ruleset.enabled)} enabled rules, {len(ruleset.concepts)} concepts in {rules_dir}")
    if args.offline:
        return 0
    from monitor.credentials import check_credentials

    failed = 0
    for check in check_credentials(settings, os.environ):  # Slack auth.test, SMTP login: nothing is sent
        failed += check.ok is False
        print(check, flush=True)
    for source, outcome in _probe_sources(settings):
        failed += outcome.startswith("error")
        print(f"{source.name:<28} {outcome}", flush=True)
    return 1 if failed else 0


def _probe_sources(settings: Settings) -> Iterator[tuple[SourceConfig, str]]:
    """Fetch and parse every enabled source once, eight at a time, in config order."""
    from monitor.daemon import http_client
    from monitor.pipeline import fetch_and_parse
    from monitor.sources import kind_of

    client = http_client(settings, retries=0)

    def probe(source: SourceConfig) -> str:
        try:  # as a poll does, without the conditional request: a parser that crashes is a problem
            _, parsed = fetch_and_parse(client, kind_of(source.kind), source, SourceState(source.name))
        except MonitorError as exc:
            return f"error: {exc}"
        if not parsed.articles:
            return f"error: {parsed.problems[0] if parsed.problems else 'no items'}"
        return f"ok: {len(parsed.articles)} items" + (f" ({parsed.problems[0]})" if parsed.problems else "")

    sources = [s for s in settings.sources if s.enabled]
    with client, ThreadPoolExecutor(max_workers=8) as pool:
        yield from zip(sources, pool.map(probe, sources), strict=True)


def _sources(args: argparse.Namespace) -> int:
    from monitor.sources.health import health

    settings = _settings(args)
    store = open_store(settings.store.url)
    try:
        states = {s.name: s for s in store.source_states()}
    finally:
        store.close()
    now = datetime.now(UTC)
    print(f"{'source':<28} {'kind':<9} {'status':<8} {'items':>6}  {'last success (UTC)':<16}  problem")
    counts: dict[str, int] = {}
    for source in settings.sources:
        state = states.get(source.name)
        verdict = health(source, state, now) if source.enabled else None
        status = verdict.status if verdict else "disabled"
        counts[status] = counts.get(status, 0) + 1
        success = f"{state.last_success:%Y-%m-%d %H:%M}" if state and state.last_success else "-"
        print(f"{source.name:<28} {source.kind:<9} {status:<8} {state.items_seen if state else 0:>6}  {success:<16}  "
              f"{plain(verdict.detail) if verdict else ''}".rstrip())
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no sources configured")
    return 1 if counts.get("failing") or counts.get("stale") else 0


def _lexicon_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: argparse.ArgumentParser) -> None:
    lexicon = commands.add_parser("lexicon", help="lexicon tools").add_subparsers(dest="lexicon_command",
                                                                                 required=True)
    imported = lexicon.add_parser("import", parents=[common], help="a sanctions list's names and aliases (with "
                                  "transliterations) as a lexicon concept rules can use")
    imported.add_argument("file", metavar="FILE", help="a list file: OFAC sdn.csv/sdn.xml, UN, EU, UK, HM Treasury, "
                          "Canada XML, OpenSanctions entities.ftm.json (format sniffed)")
    imported.add_argument("--concept", required=True, metavar="NAME", help="the concept's name, e.g. designated_dprk")
    imported.add_argument("--program", action="append", default=[], metavar="TEXT",
                          help="only designations under a program containing TEXT, e.g. DPRK (repeatable)")
    imported.add_argument("--type", action="append", default=[], metavar="TYPE",
                          help="only this type: individual, entity, vessel, aircraft ... (repeatable)")
    imported.add_argument("--output", metavar="PATH", help="write the YAML here (e.g. rules/lexicons/NAME.yaml); "
                          "default: standard output")
    imported.set_defaults(handler=_lexicon_import)


def _lexicon_import(args: argparse.Namespace) -> int:
    import yaml

    from monitor.sources.lexicon import chosen, lexicon
    from monitor.sources.lists import read_list

    if not re.fullmatch(r"[a-z][a-z0-9_]*", args.concept):
        raise ConfigError([f'--concept: "{args.concept}" is not a concept name like designated_dprk '
                           "(lower case, digits, _)"])
    try:
        document = read_list(Path(args.file).read_bytes())
    except OSError as exc:
        print(f"monitor: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if not document.designations:
        print(f"monitor: {args.file}: {document.problems[0] if document.problems else 'no designations'}",
              file=sys.stderr)
        return 1
    picked = chosen(document.designations, args.program, args.type)
    where = f" under {' or '.join(args.program)}" if args.program else ""
    description = (f"Designations{where} in {Path(args.file).name} ({document.format}, "
                   f"{len(picked)} of {len(document.designations)}), imported {datetime.now(UTC):%Y-%m-%d}")
    text = yaml.safe_dump(lexicon(picked, args.concept, description), allow_unicode=True, sort_keys=False, width=120)
    header = f"# Generated by `monitor lexicon import {Path(args.file).name} --concept {args.concept}`; re-run it " \
             "to refresh.\n"
    if args.output:
        Path(args.output).write_text(header + text, encoding="utf-8")
    else:
        print(header + text, end="")
    print(f"{args.concept}: {len(picked)} designations{where} of {len(document.designations)} "
          f"({document.format})" + (f" written to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ruleset = load_rules(resolve_rules_dir(args.rules, settings))
    matcher = Matcher(ruleset, _chosen_rules(ruleset, args.rule))
    since, until = _date_option(args.since, "--since"), _date_option(args.until, "--until")
    if bool(args.file) == bool(args.from_store):
        print("monitor: give either FILE.jsonl or --from-store", file=sys.stderr)
        return EXIT_USAGE
    pairs: list[tuple[frozenset[str], frozenset[str]]] = []
    stages: list[tuple[str, str]] = []  # (what the stage lexicons said, the line's `stage` label)
    scanner = StageScanner(ruleset) if args.labels else None  # its table is printed only with --labels
    hits: dict[str, int] = {r.id: 0 for r in matcher.rules}
    problems, articles = 0, 0
    progress = sys.stderr.isatty()
    try:
        for line in _backtest_lines(args, settings, since, until):
            if line.article is None:
                problems += 1
                print(f"{args.file}:{line.number}: skipped: {line.problem}", file=sys.stderr)
                continue
            articles += 1
            found = matcher.match(line.article)
            for match in found:
                hits[match.rule_id] += 1
                if args.format == "jsonl":
                    print(json.dumps(backtest.match_record(line.article, match), ensure_ascii=False), flush=True)
            if line.labels is not None:
                pairs.append((frozenset(t for m in found for t in m.tags), line.labels))
            if scanner is not None and line.stage is not None:
                stages.append((scanner.read(line.article, found).label, line.stage))
            if progress and articles % 100 == 0:
                print(f"\r{articles} articles…", end="", file=sys.stderr, flush=True)
    except OSError as exc:
        print(f"monitor: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    if progress:
        print("\r", end="", file=sys.stderr)
    if args.format == "table":
        print(backtest.rule_table(matcher.rules, hits, articles))
    if args.labels and (pairs or not stages):
        tags = {t for r in matcher.rules for t in r.tags} | {t for _, gold in pairs for t in gold}
        print(backtest.score_table(backtest.score(pairs, tags), len(pairs)), file=sys.stderr)
    if args.labels and stages:
        print(backtest.stage_table(stages), file=sys.stderr)
    return 1 if problems else 0


def _chosen_rules(ruleset: RuleSet, ids: list[str] | None) -> list[Rule] | None:
    """`--rule ID` (repeatable): those rules, enabled or not; without it, None (the enabled ones)."""
    if not ids:
        return None
    known = {r.id: r for r in ruleset.rules}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ConfigError([f'--rule: no rule "{i}" (rules: {", ".join(sorted(known))})' for i in unknown])
    return [known[i] for i in ids]


def _date_option(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return backtest.parse_date(value)
    except ValueError:
        raise ConfigError([f'{option}: "{value}" is not a date like 2025-07-01 or 2025-07-01T12:00'])  # noqa: B904


def _backtest_lines(args: argparse.Namespace, settings: Settings, since: datetime | None,
                    until: datetime | None) -> Iterator[backtest.Line]:
    """The lines to replay, their articles published in [since, until); unreadable lines too, to report."""
    if args.from_store:
        store = open_store(settings.store.url)
        try:
            for number, article in enumerate(stored_articles(store, since, until), start=1):  # filtered in SQL
                yield backtest.Line(number, article)
        finally:
            store.close()
        return
    with open(args.file, encoding="utf-8") as stream:
        for line in backtest.read_articles(stream):
            if line.article is None or backtest.published_between(line.article, since, until):
                yield line


def _rules_check(args: argparse.Namespace) -> int:
    from monitor.rules.check import SEVERITY_ORDER, lint, run_examples

    directory = Path(args.dir) if args.dir else resolve_rules_dir(args.rules, _settings(args))
    ruleset = load_rules(directory)
    failures = run_examples(ruleset)
    shown = SEVERITY_ORDER[: SEVERITY_ORDER.index(args.severity) + 1]
    issues = [i for i in failures + lint(ruleset) if i.severity in shown]
    for issue in issues:
        print(issue)
    examples = sum(len(r.examples) for r in ruleset.rules)
    counts = {s: sum(1 for i in issues if i.severity == s) for s in shown}
    print(f"{directory}: {len(ruleset.rules)} rules ({len(ruleset.enabled)} enabled), {len(ruleset.concepts)} "
          f"concepts; {examples} examples, {len(failures)} failing; "
          + ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items()))
    return 1 if failures else 0


def _rules_explain(args: argparse.Namespace) -> int:
    from monitor.rules.explain import explain, render

    settings = _settings(args)
    ruleset = load_rules(resolve_rules_dir(args.rules, settings))
    rules = _chosen_rules(ruleset, [args.rule_id])
    text = args.text
    if args.file:
        text = Path(args.file).read_text(encoding="utf-8")
    elif args.url:
        text = _fetch_text(args.url, settings)
    article = Article(source=args.source, guid="explain", url=args.url or "", title=args.title, content=text or "",
                      language=args.language)
    explanation = explain(Matcher(ruleset, rules), args.rule_id, article)
    print(render(explanation))
    return 0 if explanation.matched else 1


def _fetch_text(url: str, settings: Settings) -> str:
    """A web page's readable text, for `rules explain --url`."""
    from monitor.daemon import http_client
    from monitor.sources.markup import decode_html, html_to_text

    with http_client(settings, retries=0) as client:
        fetched = client.fetch(url)
    return html_to_text(decode_html(fetched.content, fetched.content_type))


# --- events and silences (issue 5) -----------------------------------------------------------------

def _event_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                    common: argparse.ArgumentParser) -> None:
    events = commands.add_parser("events", parents=[common], help="recent events, newest first",
                                 description="recent events, newest first")
    events.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    events.add_argument("--state", choices=["alerted", "held", "silenced"], help="only events in this state")
    events.set_defaults(handler=_events)
    shows = events.add_subparsers(dest="events_command", required=False, metavar="show ID")
    show = shows.add_parser("show", parents=[common], help="one event: its coverage, decisions and evidence")
    show.add_argument("id", type=int)
    show.set_defaults(handler=_event_show)
    silence = commands.add_parser("silence", help="quiet a rule for a while").add_subparsers(
        dest="silence_command", required=True)
    add = silence.add_parser("add", parents=[common], help="silence a rule: its events are recorded, not sent")
    add.add_argument("--rule", required=True, metavar="ID", help="the rule id")
    add.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 24h, 30m, 7d")
    add.add_argument("--reason", required=True, help="why, for whoever reads `silence list`")
    add.set_defaults(handler=_silence_add)
    listing = silence.add_parser("list", parents=[common], help="the silences in force")
    listing.set_defaults(handler=_silence_list)


def _open_configured_store(args: argparse.Namespace) -> Store:
    return open_store(_settings(args).store.url)


def _events(args: argparse.Namespace) -> int:
    store = _open_configured_store(args)
    try:
        found = event_page(store, EventFilter(state=args.state), args.limit).rows  # the web view's query
    finally:
        store.close()
    print(f"{'id':>5}  {'state':<8} {'severity':<8} {'grade':<5} {'stage':<11} {'opened (UTC)':<16} {'src':>3} "
          f"{'rep':>3}  title")
    for e in found:
        stage = (e.stage or "-") + ("!" if e.denied else "")  # ! : a party denied it
        print(f"{e.id:>5}  {e.state:<8} {e.severity:<8} {e.grade or '-':<5} {stage:<11} "
              f"{e.opened_at:%Y-%m-%d %H:%M} {e.sources:>3} {e.reports:>3}  "
              f"{plain(e.title)[:80]}")
    return 0


def _event_show(args: argparse.Namespace) -> int:
    store = _open_configured_store(args)
    try:
        found = event_detail(store, args.id)
    finally:
        store.close()
    if found is None:
        print(f"monitor: no event {args.id}; `monitor events` lists them", file=sys.stderr)
        return 1
    event, reports = found
    print(f"event {event.id}: {plain(event.title)}")
    print(f"  grade {event.grade or '-'}, stage {event.stage or '-'}" + (", denied by a party" if event.denied else ""))
    print(f"  state {event.state}, severity {event.severity}, opened {event.opened_at:%Y-%m-%d %H:%M} UTC, "
          f"{event.sources} independent sources, {event.reports} reports")
    print(f"  rules: {', '.join(event.rule_ids)}")
    print(f"  entities: {', '.join(event.entities) or '-'}")
    for n, report in enumerate(reports, start=1):
        copy = " (copy)" if report["copy"] else ""
        print(f"\n  {n}. {report['added_at']:%Y-%m-%d %H:%M} {report['source']} ({report['domain']}){copy}")
        print(f"     {plain(report['title'])}\n     {report['url']}")
        print(f"     {report['decision']}: {report['reason']}")
        print(f"     evidence: text hash {report['content_hash']}, fetched {report['fetched_at'] or 'unknown'}, "
              f"{len(report['text'])} characters kept")
    return 0


def _silence_add(args: argparse.Namespace) -> int:
    try:
        duration = parse_duration(args.duration)
    except ValueError as exc:
        print(f"monitor: --for: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = _open_configured_store(args)
    now = datetime.now(UTC)
    try:
        silence_id = add_silence(store, args.rule, now + duration, args.reason, now)
    finally:
        store.close()
    print(f"silence #{silence_id}: rule {args.rule} quiet until {now + duration:%Y-%m-%d %H:%M} UTC")
    return 0


def _silence_list(args: argparse.Namespace) -> int:
    store = _open_configured_store(args)
    try:
        found = active_silences(store, datetime.now(UTC))
    finally:
        store.close()
    for silence in found:
        print(f"#{silence.id:<4} {silence.rule_id:<36} until {silence.until:%Y-%m-%d %H:%M} UTC  {silence.reason}")
    if not found:
        print("no silences in force")
    return 0


# --- delivery: digests, routes, the outbox (issue 3) -----------------------------------------------

def _delivery_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                       common: argparse.ArgumentParser) -> None:
    digest = commands.add_parser("digest", help="email digests").add_subparsers(dest="digest_command", required=True)
    preview = digest.add_parser("preview", parents=[common],
                                help="print the HTML of the digest NAME would send now; nothing is sent or marked")
    preview.add_argument("name", metavar="NAME", help="an email notifier with a schedule")
    preview.add_argument("--text", action="store_true", help="print the plain-text part instead of the HTML")
    preview.set_defaults(handler=_digest_preview)
    send = digest.add_parser("send", parents=[common], help="send the digest NAME now, outside its schedule")
    send.add_argument("name", metavar="NAME", help="an email notifier with a schedule")
    send.set_defaults(handler=_digest_send)
    routes = commands.add_parser("routes", help="routing tools").add_subparsers(dest="routes_command", required=True)
    test = routes.add_parser("test", parents=[common], help="which notifiers an alert would reach, and by which route")
    test.add_argument("--severity", choices=SEVERITIES, default="info", help="the alert's severity (default info)")
    test.add_argument("--tags", nargs="+", default=[], metavar="TAG", help="its tags (space- or comma-separated)")
    test.add_argument("--rule", action="append", default=[], metavar="ID", help="a rule id it matched (repeatable)")
    test.set_defaults(handler=_routes_test)
    outbox = commands.add_parser("outbox", parents=[common], help="pending and failed deliveries, with reasons",
                                 description="pending and failed deliveries, with reasons")
    outbox.set_defaults(handler=_outbox)
    retries = outbox.add_subparsers(dest="outbox_command", required=False, metavar="retry [ID]")
    retry = retries.add_parser("retry", parents=[common], help="send failed and waiting deliveries again now")
    retry.add_argument("id", nargs="?", type=int, metavar="ID", help="one delivery (an id from `monitor outbox`)")
    retry.set_defaults(handler=_outbox_retry)


def _digest_channel(settings: Settings, name: str) -> EmailConfig:
    config = settings.notifier(name)
    if not isinstance(config, EmailConfig) or config.schedule is None:
        raise ConfigError([f'notifier "{name}" is not a digest; a digest is an email notifier with a schedule'])
    return config


def _digest_preview(args: argparse.Namespace) -> int:
    from monitor.notify.digest import digest_text
    from monitor.notify.email import EmailNotifier
    from monitor.notify.outbox import collect_digest

    settings = _settings(args)
    config = _digest_channel(settings, args.name)
    channel = EmailNotifier(config, None, lambda: datetime.now(UTC))  # no password: nothing is sent
    store = open_store(settings.store.url)
    try:
        digest = collect_digest(store, config.name, settings.routes, [n.name for n in settings.notifiers],
                                datetime.now(UTC), include_unqueued=True)
    finally:
        store.close()
    print(digest_text(digest, channel.tz) if args.text else channel.preview(digest), end="")
    return 0


def _digest_send(args: argparse.Namespace) -> int:
    from monitor.daemon import build_notifier, utcnow
    from monitor.notify.email import EmailNotifier
    from monitor.notify.outbox import Outbox, send_digest_now

    settings = _settings(args)
    config = _digest_channel(settings, args.name)
    channel = build_notifier(config, os.environ, utcnow)
    assert isinstance(channel, EmailNotifier)
    store = open_store(settings.store.url)
    try:
        names = [n.name for n in settings.notifiers]
        Outbox(store, {config.name: channel}, settings.routes, utcnow, all_names=names).deliver()  # joins it first
        result = send_digest_now(store, channel, settings.routes, names, utcnow)
    finally:
        store.close()
    print(f"digest {result.notifier}: {result.outcome}" + (f": {result.detail}" if result.detail else ""))
    return 0 if result.outcome in ("sent", "empty") else 1


def _routes_test(args: argparse.Namespace) -> int:
    from monitor.notify.routes import RouteKey, describe, matching_routes, targets

    settings = _settings(args)
    tags = tuple(t for value in args.tags for t in value.split(",") if t)
    rules = tuple(r for value in args.rule for r in value.split(",") if r)
    key = RouteKey(args.severity, tags, rules)
    names = [n.name for n in settings.notifiers]
    print(f"an alert of severity {key.severity}, tags {', '.join(tags) or '-'}, rules {', '.join(rules) or '-'}:")
    if not settings.routes:
        print("  no [[routes]]: every alert goes to every notifier")
    for index in matching_routes(key, settings.routes):
        route = settings.routes[index]
        print(f"  routes[{index}] ({describe(route)}) → {', '.join(route.notify)}")
    reached = targets(key, settings.routes, names)
    print(f"reaches: {', '.join(reached)}" if reached else "reaches no notifier: no route matches, it is sent nowhere")
    return 0 if reached else 1


def _outbox(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = open_store(settings.store.url)
    try:
        rows, counts, digests = store.undelivered(), store.delivery_counts(), store.digests()
    finally:
        store.close()
    if rows:
        print(f"{'id':>5} {'alert':>6}  {'notifier':<20} {'status':<8} {'tries':>5}  {'next try (UTC)':<16}  alert")
    for row in rows:
        alert = row["payload"]
        due = f"{row['next_attempt_at']:%Y-%m-%d %H:%M}" if row["next_attempt_at"] else "-"
        print(f"{row['id'] or '-':>5} {row['alert_id']:>6}  {row['notifier'] or '(not tried)':<20} {row['status']:<8} "
              f"{row['attempts']:>5}  {due:<16}  [{alert['severity'].upper()}] {plain(alert['title'])[:60]}")
        if row["last_error"]:
            print(f"{'':>36}{plain(row['last_error'])}")
    if not rows:
        print("nothing waiting: every alert reached every notifier it was routed to")
    for name in sorted({n for n, status in counts if status == "queued"}):
        print(f"{name}: {counts[(name, 'queued')]} alerts queued for the next digest")
    for name in sorted({n for n, status in counts if status in ("held", "catching_up")}):
        held = counts.get((name, "held"), 0) + counts.get((name, "catching_up"), 0)
        print(f"{name}: {held} alerts held for the catch-up message after downtime (sent once every source "
              "was polled; a running daemon sends it)")
    for digest in digests:
        if digest["status"] in ("pending", "sending", "failed"):
            asked = f"{digest['requested_at']:%Y-%m-%d %H:%M}"
            print(f"digest {digest['notifier']} asked for at {asked} UTC: {digest['status']}"
                  + (f", {digest['attempts']} tries; {plain(digest['last_error'])}" if digest["last_error"] else ""))
    return 0


def _outbox_retry(args: argparse.Namespace) -> int:
    from monitor.daemon import build_notifiers, utcnow
    from monitor.notify.outbox import Outbox

    settings = _settings(args)
    notifiers = build_notifiers(settings)
    store = open_store(settings.store.url)
    try:
        count = store.retry_deliveries(args.id)
        if args.id is not None and not count:
            print(f"monitor: no failed or waiting delivery has the id {args.id} (`monitor outbox` lists them); "
                  "an accepted alert is never sent again", file=sys.stderr)
            return 1
        report = Outbox(store, notifiers, settings.routes, utcnow).deliver()
    finally:
        store.close()
    print(f"{count} deliveries made due; sent {report.sent}, queued {report.queued}, skipped {report.skipped}, "
          f"failed {report.failed}, to retry {report.retrying}, waiting {report.waiting}")
    for error in report.errors:
        print(f"  {error}")
    return 0 if not report.failed and not report.retrying else 1


if __name__ == "__main__":
    sys.exit(main())
