"""The `monitor` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import backtest
from monitor.config import NotifierConfig, Settings, SourceConfig, StoreConfig, load_settings
from monitor.demo import bundled_feeds, serve
from monitor.errors import ConfigError, MonitorError, RuleErrors
from monitor.rules import Matcher, load_rules
from monitor.store import open_store

if TYPE_CHECKING:
    from monitor.daemon import App

log = logging.getLogger("monitor")
EXIT_USAGE = 2  # a bad config or rule set: fix the input, then run again


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose or args.command == "run"
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuleErrors as exc:
        print(f"monitor: the rules do not load ({len(exc.errors)} errors):\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except MonitorError as exc:
        print(f"monitor: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="TOML config (default: $MONITOR_CONFIG, else defaults)")
    common.add_argument("--rules", metavar="DIR", help="rules directory (default: rules_dir, ./rules, shipped pack)")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")

    parser = argparse.ArgumentParser(prog="monitor", description="Sanctions and military-cooperation event monitor.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: object, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    command("run", _run, "run the daemon: poll every source on its interval and deliver alerts")
    command("once", _once, "poll every source once, deliver the alerts, exit")
    demo = command("demo", _demo, "serve the bundled sample feeds on loopback and run one cycle (no network)")
    demo.add_argument("--format", choices=["text", "jsonl"], default="text", help="console output format")
    check = command("check", _check, "validate the config and the rules, and fetch every source once")
    check.add_argument("--offline", action="store_true", help="skip fetching the sources")
    command("sources", _sources, "the health of every source, from the store")
    bt = command("backtest", _backtest, "replay articles from a JSONL file through the rules")
    bt.add_argument("file", metavar="FILE.jsonl", help="one article a line: id, url, title, text (+ published, ...)")
    bt.add_argument("--labels", action="store_true", help="score per-tag precision/recall against `labels`")
    rules = commands.add_parser("rules", help="rule tools").add_subparsers(dest="rules_command", required=True)
    rules_check = rules.add_parser("check", parents=[common], help="load the rules and report every error")
    rules_check.add_argument("dir", nargs="?", help="rules directory (default as --rules)")
    rules_check.set_defaults(handler=_rules_check)
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
    return load_settings(args.config)


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
    try:
        return run_daemon(app)
    finally:
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
            notifiers=[NotifierConfig(name="console", format=args.format)],
        )
        app = App(settings, rules_dir)
        try:
            reports = app.run_once()
        finally:
            app.close()
    alerts = sum(len(r.alerts) for r in reports)
    print(f"demo: {len(feeds)} feeds served on loopback, {sum(r.items for r in reports)} articles, "
          f"{alerts} alerts from {len(app.matcher.rules)} rules in {rules_dir}", file=sys.stderr)
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rules_dir = resolve_rules_dir(args.rules, settings)
    ruleset = load_rules(rules_dir)
    from monitor.daemon import check_source_kinds

    check_source_kinds(settings)
    print(f"config ok: {len(settings.sources)} sources, {len(settings.notifiers)} notifiers")
    print(f"rules ok: {len(ruleset.enabled)} enabled rules, {len(ruleset.concepts)} concepts in {rules_dir}")
    if args.offline:
        return 0
    failed = 0
    for source, outcome in _probe_sources(settings):
        failed += outcome.startswith("error")
        print(f"{source.name:<28} {outcome}", flush=True)
    return 1 if failed else 0


def _probe_sources(settings: Settings) -> Iterator[tuple[SourceConfig, str]]:
    """Fetch and parse every enabled source once, eight at a time, in config order."""
    from monitor.daemon import http_client
    from monitor.sources import parser_for

    client = http_client(settings, retries=0)

    def probe(source: SourceConfig) -> str:
        try:
            parsed = parser_for(source.kind)(client.fetch(source.url), source)
        except MonitorError as exc:
            return f"error: {exc}"
        if not parsed.articles:
            return f"error: {parsed.problems[0] if parsed.problems else 'no items'}"
        return f"ok: {len(parsed.articles)} items" + (f" ({parsed.problems[0]})" if parsed.problems else "")

    sources = [s for s in settings.sources if s.enabled]
    with client, ThreadPoolExecutor(max_workers=8) as pool:
        yield from zip(sources, pool.map(probe, sources), strict=True)


def _sources(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = open_store(settings.store.url)
    try:
        states = {s.name: s for s in store.source_states()}
    finally:
        store.close()
    print(f"{'source':<28} {'status':<8} {'errors':>6} {'items':>6}  last success / last error")
    for source in settings.sources:
        state = states.get(source.name)
        if state is None:
            print(f"{source.name:<28} {'new':<8} {0:>6} {0:>6}  never polled")
            continue
        status = "failing" if state.error_count else "ok"
        detail = state.last_error if state.error_count else (state.last_success or "never")
        print(f"{source.name:<28} {status:<8} {state.error_count:>6} {state.items_seen:>6}  {detail}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    matcher = Matcher(load_rules(resolve_rules_dir(args.rules, settings)))
    pairs: list[tuple[frozenset[str], frozenset[str]]] = []
    problems = 0
    progress = sys.stderr.isatty()
    try:
        stream = open(args.file, encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        print(f"monitor: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    with stream:
        for count, line in enumerate(backtest.read_articles(stream), start=1):
            if line.article is None:
                problems += 1
                print(f"{args.file}:{line.number}: skipped: {line.problem}", file=sys.stderr)
                continue
            found = matcher.match(line.article)
            for match in found:
                print(json.dumps(backtest.match_record(line.article, match), ensure_ascii=False), flush=True)
            if line.labels is not None:
                pairs.append((frozenset(t for m in found for t in m.tags), line.labels))
            if progress and count % 100 == 0:
                print(f"\r{count} articles…", end="", file=sys.stderr, flush=True)
    if progress:
        print("\r", end="", file=sys.stderr)
    if args.labels:
        tags = {t for r in matcher.rules for t in r.tags} | {t for _, gold in pairs for t in gold}
        print(backtest.score_table(backtest.score(pairs, tags), len(pairs)), file=sys.stderr)
    return 1 if problems else 0


def _rules_check(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else resolve_rules_dir(args.rules, _settings(args))
    ruleset = load_rules(directory)
    print(f"{directory}: {len(ruleset.rules)} rules ({len(ruleset.enabled)} enabled), {len(ruleset.concepts)} concepts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
