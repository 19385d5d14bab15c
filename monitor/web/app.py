"""The Flask app: handlers read the store (`monitor.webdata`, `monitor.eventlog`), hand the data to the
pure assembly in `pages` and `plots`, and render a template. No rule or event logic lives here.

`create_app(context)` returns a plain Flask app, so a caller can add routes to it (`app.add_url_rule`,
`app.register_blueprint`) or mount it under a WSGI dispatcher; see docs/web.md.
"""

from __future__ import annotations

import base64
import csv
import hmac
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request, stream_with_context, url_for

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.eventlog import event_detail
from monitor.models import SEVERITIES, Article
from monitor.rules import Matcher
from monitor.rules.check import run_examples
from monitor.rules.explain import explain
from monitor.rules.model import Rule, RuleSet
from monitor.store import Store
from monitor.web import pages, plots
from monitor.webdata import (
    EventFilter,
    all_events,
    articles_per_day,
    days_back,
    event_deliveries,
    event_page,
    event_reports,
    events_per_day_by_tag,
    hits_per_day,
    last_hits,
    poll_outcomes_per_day,
)

# No script at all, no inline style, no framing, forms only to ourselves; plots are inline SVG.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
MAX_TRY_TEXT = 100_000


@dataclass
class WebContext:
    """What the web view reads: the settings, the store, the rules in force (a callable, so that a
    daemon's SIGHUP reload shows), a fetcher for the "try it" form's URLs (None: disabled) and the clock."""

    settings: Settings
    store: Store
    rules: Callable[[], RuleSet]
    fetch_text: Callable[[str], str] | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    public_paths: set[str] = field(default_factory=lambda: {"/static/style.css"})  # reachable without login
    # The last rule set asked about and its failing examples: one slot, so a reload frees the old set.
    _examples: tuple[RuleSet, dict[str, list[str]]] | None = None

    def failing_examples(self, ruleset: RuleSet) -> dict[str, list[str]]:
        """rule id → what its failing examples say; computed again only when the rule set changes."""
        cached = self._examples
        if cached is None or cached[0] is not ruleset:
            failing: dict[str, list[str]] = {}
            for issue in run_examples(ruleset):
                failing.setdefault(issue.message.split(":")[0], []).append(issue.message)
            cached = self._examples = (ruleset, failing)
        return cached[1]


def create_app(context: WebContext) -> Flask:
    app = Flask("monitor.web", root_path=str(Path(__file__).parent))
    app.config["MONITOR"] = context
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.jinja_env.globals.update(safe_link=pages.safe_link, query_string=pages.query_string)
    app.before_request(_authenticate)
    app.after_request(_secure_headers)
    for rule, view in ((("/"), events_page), ("/events.json", events_json), ("/events.csv", events_csv),
                       ("/events/<int:event_id>", event_page_view), ("/sources", sources_page),
                       ("/sources.json", sources_json), ("/rules", rules_page), ("/rules.json", rules_json)):
        app.add_url_rule(rule, view_func=view)
    app.add_url_rule("/rules/<rule_id>", view_func=rule_page, methods=["GET", "POST"])
    return app


def _context() -> WebContext:
    from flask import current_app

    context: WebContext = current_app.config["MONITOR"]
    return context


# --- security ------------------------------------------------------------------------------------

def _authenticate() -> Response | None:
    """HTTP Basic when `[web] username` is set (the password from MONITOR_WEB__PASSWORD)."""
    context = _context()
    web = context.settings.web
    if not web.username or request.path in context.public_paths:
        return None
    given = request.headers.get("Authorization", "")
    if given.startswith("Basic "):
        try:
            user, _, password = base64.b64decode(given[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        expected = web.password.get_secret_value() if web.password else ""
        if expected and hmac.compare_digest(user.encode(), web.username.encode()) and hmac.compare_digest(
                password.encode(), expected.encode()):
            return None
    return Response("login required\n", 401, {"WWW-Authenticate": 'Basic realm="monitor", charset="UTF-8"',
                                              "Content-Type": "text/plain; charset=utf-8"})


def _secure_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")  # no-referrer would send Origin: null
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _same_origin() -> bool:
    """A POST must come from our own pages: a form on another site cannot make us fetch a URL."""
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        return False
    return origin is None or origin == request.host_url.rstrip("/")


# --- events --------------------------------------------------------------------------------------

def _events_query() -> tuple[EventFilter, list[str], int, tuple[datetime, int] | None]:
    f, problems = pages.parse_filter(request.args)
    size = pages.page_size(request.args.get("page_size"), _context().settings.web.page_size)
    return f, problems, size, pages.parse_cursor(request.args.get("next"))


def events_page() -> str:
    context = _context()
    f, problems, size, after = _events_query()
    page = event_page(context.store, f, size, after)
    days = 90 if request.args.get("days") == "90" else 30
    since = days_back(context.now(), days)
    plot = plots.stacked_bars(events_per_day_by_tag(context.store, f, since), since.date(), days,
                              f"events per day by tag, last {days} days")
    ruleset = context.rules()
    return render_template(
        "events.html", page=page, plot=plot, problems=problems, days=days, filters=request.args,
        next_token=pages.cursor_token(page.next) if page.next else None, severities=SEVERITIES,
        states=pages.STATES, tags=sorted({t for r in ruleset.rules for t in r.tags}),
        rule_ids=sorted(r.id for r in ruleset.rules), sources=[s.name for s in context.settings.sources])


def events_json() -> Response:
    context = _context()
    f, problems, size, after = _events_query()
    page = event_page(context.store, f, size, after)
    base = request.host_url.rstrip("/")
    token = pages.cursor_token(page.next) if page.next else None
    return jsonify({
        "events": [pages.event_json(r, base) for r in page.rows], "next": token,
        "next_url": f"{base}/events.json?{pages.query_string(request.args, next=token)}" if token else None,
        "problems": problems,
    })


def events_csv() -> Response:
    context = _context()
    f, _, _, _ = _events_query()
    base = request.host_url.rstrip("/")

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(pages.CSV_FIELDS)
        for row in all_events(context.store, f):
            writer.writerow(pages.csv_row(pages.event_json(row, base)))
            if buffer.tell() > 65536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="events.csv"'})


def event_page_view(event_id: int) -> str:
    context = _context()
    found = event_detail(context.store, event_id)
    if found is None:
        abort(404)
    event, _ = found
    reports = event_reports(context.store, event_id)
    points = [plots.Point(r.source, r.published or r.added_at, r.copy) for r in reports]
    return render_template(
        "event.html", event=event, reports=reports, entities=pages.entities_of(reports) or list(event.entities),
        sentences=[pages.matched_sentence(r) for r in reports], deliveries=event_deliveries(context.store, event_id),
        timeline=plots.timeline(points, f"coverage of event {event_id}") if points else None)


# --- sources -------------------------------------------------------------------------------------

def _source_rows() -> list[pages.SourceRow]:
    context = _context()
    now = context.now()
    states = {s.name: s for s in context.store.source_states()}
    per_day = articles_per_day(context.store, days_back(now, 30))
    return pages.source_rows(context.settings.sources, states, per_day, now, request.args.get("sort", "status"))


def sources_page() -> str:
    rows = _source_rows()
    since = days_back(_context().now(), 30).date()
    sparks = {r.name: plots.sparkline(r.per_day, since, 30, f"{r.name}: items per day, last 30 days")
              for r in rows}
    outcomes = poll_outcomes_per_day(_context().store, days_back(_context().now(), 30))
    polled = {r.name: plots.outcome_bars(outcomes.get(r.name, {}), since, 30,
                                         f"{r.name}: polls per day by outcome, last 30 days") for r in rows}
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return render_template("sources.html", rows=rows, sparks=sparks, polled=polled, counts=counts,
                           sort=request.args.get("sort", "status"))


def sources_json() -> Response:
    return jsonify({"sources": [pages.source_json(r) for r in _source_rows()]})


# --- rules ---------------------------------------------------------------------------------------

def _rule_rows(ruleset: RuleSet, since: datetime, only: str | None = None) -> list[pages.RuleRow]:
    """A row per rule of `ruleset` (or only the rule `only`), with its hits from `since` on."""
    context = _context()
    hits, last, failing = hits_per_day(context.store, since), last_hits(context.store), context.failing_examples(
        ruleset)
    return [pages.RuleRow(id=r.id, title=r.title, severity=r.severity, tags=r.tags, enabled=r.enabled,
                          examples=len(r.examples), failing=tuple(failing.get(r.id, ())), last_hit=last.get(r.id),
                          hits=sum(hits.get(r.id, {}).values()), per_day=hits.get(r.id, {}))
            for r in ruleset.rules if only is None or r.id == only]


def rules_page() -> str:
    context = _context()
    since = days_back(context.now(), 30)
    rows = _rule_rows(context.rules(), since)
    sparks = {r.id: plots.sparkline(r.per_day, since.date(), 30, f"{r.id}: hits per day, last 30 days", css="s1")
              for r in rows}
    return render_template("rules.html", rows=rows, sparks=sparks)


def rules_json() -> Response:
    context = _context()
    return jsonify({"rules": [pages.rule_json(r) for r in _rule_rows(context.rules(), days_back(context.now(), 30))]})


def rule_page(rule_id: str) -> str | tuple[str, int]:
    context = _context()
    ruleset = context.rules()  # read once: a reload during the request must not swap the rule under us
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    if rule is None:
        abort(404)
    since = days_back(context.now(), 30)
    row = _rule_rows(ruleset, since, only=rule_id)[0]
    tried: dict[str, Any] = {"text": "", "url": "", "title": "", "language": "", "error": None, "explanation": None}
    if request.method == "POST":
        if not _same_origin():
            abort(403)
        tried.update({k: request.form.get(k, "")[:MAX_TRY_TEXT] for k in ("text", "url", "title", "language")})
        tried["error"], tried["explanation"] = _try(context, ruleset, rule, tried)
    plot = plots.stacked_bars({rule_id: row.per_day}, since.date(), 30, f"{rule_id}: hits per day, last 30 days")
    return render_template("rule.html", rule=rule, row=row, plot=plot, tried=tried,
                           fetch_enabled=context.fetch_text is not None,
                           action=url_for("rule_page", rule_id=rule_id))


def _try(context: WebContext, ruleset: RuleSet, rule: Rule, tried: dict[str, Any]) -> tuple[str | None, Any]:
    """The `rules explain` tree for the pasted text, or the page at the pasted URL when allowed."""
    text = tried["text"]
    if tried["url"]:
        if context.fetch_text is None:
            return "fetching URLs is off; set [web] fetch_urls = true to allow it, or paste the text", None
        if pages.safe_link(tried["url"]) is None:
            return "only http and https URLs can be fetched", None
        try:
            text = context.fetch_text(tried["url"])[:MAX_TRY_TEXT]
        except MonitorError as exc:
            return f"could not fetch the page: {exc}", None
    if not text.strip() and not tried["title"].strip():
        return "paste a text (or a URL) to explain", None
    article = Article(source="explain", guid="explain", url=tried["url"], title=tried["title"], content=text,
                      language=tried["language"].strip() or None)
    return None, explain(Matcher(ruleset, [rule]), rule.id, article)
