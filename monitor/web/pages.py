"""Page assembly: data in, data out. Filters from query strings, pagination keys, the JSON twins' rows,
the sources table, the rules table, highlighted sentences, safe links. No I/O and no clock here:
handlers pass `now`."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from monitor.config import SourceConfig
from monitor.models import SEVERITIES, SourceState
from monitor.sources.health import health
from monitor.text import sentence_starts
from monitor.webdata import EventFilter, EventRow, Report

STATES = ("alerted", "held", "silenced")
FILTER_KEYS = ("tag", "severity", "rule", "source", "state", "since", "until", "q")


def parse_filter(args: Mapping[str, str]) -> tuple[EventFilter, list[str]]:
    """The events filter from a query string, and what was wrong with it (shown, then ignored)."""
    problems: list[str] = []
    values: dict[str, Any] = {k: (args.get(k) or "").strip() or None for k in FILTER_KEYS}
    if values["severity"] and values["severity"] not in SEVERITIES:
        problems.append(f"severity must be one of {', '.join(SEVERITIES)}")
        values["severity"] = None
    if values["state"] and values["state"] not in STATES:
        problems.append(f"state must be one of {', '.join(STATES)}")
        values["state"] = None
    for key in ("since", "until"):
        if values[key]:
            try:
                values[key] = _utc(datetime.fromisoformat(values[key]))
            except ValueError:
                problems.append(f"{key} must be a date like 2025-06-01")
                values[key] = None
    return EventFilter(**values), problems


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cursor_token(key: tuple[datetime, int]) -> str:
    opened, event_id = key
    return base64.urlsafe_b64encode(f"{opened.isoformat()}|{event_id}".encode()).decode().rstrip("=")


def parse_cursor(token: str | None) -> tuple[datetime, int] | None:
    """The key a `next` token carries; None for no token or a token that is not ours."""
    if not token:
        return None
    try:
        opened, event_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split("|")
        return _utc(datetime.fromisoformat(opened)), int(event_id)
    except (ValueError, UnicodeDecodeError):
        return None


def query_string(args: Mapping[str, str], **changes: str | None) -> str:
    """The query string of `args` (filters and page size only) with `changes` applied."""
    kept = {k: v for k, v in args.items() if k in (*FILTER_KEYS, "page_size", "days", "sort") and v}
    kept.update({k: v for k, v in changes.items() if v})
    for k in [k for k, v in changes.items() if not v]:
        kept.pop(k, None)
    return urlencode(kept)


def safe_link(url: str | None) -> str | None:
    """A link fit for an href: http(s) only. `javascript:`, `data:` and anything else stays text."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def event_json(row: EventRow, base: str) -> dict[str, Any]:
    """One event in `/events.json` and `/events.csv`; the fields are documented in docs/web.md."""
    return {
        "id": row.id, "url": f"{base}/events/{row.id}", "state": row.state, "severity": row.severity,
        "title": row.title, "tags": list(row.tags), "rules": list(row.rule_ids),
        "opened_at": row.opened_at.isoformat(), "updated_at": row.updated_at.isoformat(),
        "first_source": row.first_source, "first_link": safe_link(row.first_url), "reports": row.reports,
        "sources": row.sources, "grade": row.grade, "stage": row.stage, "denied": row.denied,
    }


CSV_FIELDS = ("id", "url", "state", "severity", "title", "tags", "rules", "opened_at", "updated_at", "first_source",
              "first_link", "reports", "sources", "grade", "stage", "denied")


def csv_row(item: Mapping[str, Any]) -> list[str]:
    """A CSV row; lists joined by spaces; a cell a spreadsheet would run as a formula gets a leading '."""
    cells = [" ".join(v) if isinstance(v, list) else "" if v is None else str(v) for v in
             (item[k] for k in CSV_FIELDS)]
    return ["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c for c in cells]


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


def matched_sentence(report: Report) -> tuple[str, list[Segment]] | None:
    """The sentence of the report holding most matched spans, cut into plain and marked segments."""
    by_field: dict[str, list[tuple[int, int]]] = {}
    for span in report.spans:
        by_field.setdefault(span["field"], []).append((int(span["start"]), int(span["end"])))
    best: tuple[int, str, int, int] | None = None
    for field, spans in by_field.items():
        text = report.fields.get(field, "")
        starts = sentence_starts(text)
        for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
            inside = sum(1 for s, e in spans if begin <= s and e <= end)
            if inside and (best is None or inside > best[0]):
                best = (inside, field, begin, end)
    if best is None:
        return None
    _, field, start, end = best
    return field, highlight(report.fields[field][start:end], [(s - start, e - start) for s, e in by_field[field]
                                                              if start <= s and e <= end])


def highlight(text: str, marks: Iterable[tuple[int, int]]) -> list[Segment]:
    """`text` cut at the marks (overlaps merged) into segments; the template escapes each."""
    merged: list[list[int]] = []
    for start, end in sorted(marks):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, cursor = [], 0
    for start, end in merged:
        if start > cursor:
            out.append(Segment(text[cursor:start], False))
        out.append(Segment(text[start:end], True))
        cursor = end
    if cursor < len(text):
        out.append(Segment(text[cursor:], False))
    return out


def entities_of(reports: Sequence[Report]) -> list[str]:
    seen: dict[str, None] = {}
    for report in reports:
        for span in report.spans:
            if span.get("entity"):
                seen[str(span["entity"])] = None
    return list(seen)


@dataclass(frozen=True)
class SourceRow:
    name: str
    kind: str
    status: str
    detail: str
    items: int
    last_success: datetime | None
    last_attempt: datetime | None
    last_error: str | None
    error_count: int
    url: str | None  # a link to the source, when it is http(s)
    per_day: Mapping[date, int]


STATUS_ORDER = ("failing", "stale", "degraded", "new", "ok", "disabled")
SOURCE_SORTS = {
    "status": lambda r: (STATUS_ORDER.index(r.status), r.name),
    "name": lambda r: r.name,
    "items": lambda r: (-r.items, r.name),
    "last_success": lambda r: (r.last_success is not None, r.last_success or datetime.min.replace(tzinfo=UTC)),
}


def source_rows(sources: Sequence[SourceConfig], states: Mapping[str, SourceState],
                per_day: Mapping[str, Mapping[date, int]], now: datetime, sort: str = "status") -> list[SourceRow]:
    """The health table of `monitor sources`, failing first by default."""
    rows = []
    for source in sources:
        state = states.get(source.name)
        verdict = health(source, state, now) if source.enabled else None
        rows.append(SourceRow(
            name=source.name, kind=source.kind, status=verdict.status if verdict else "disabled",
            detail=verdict.detail if verdict else "", items=state.items_seen if state else 0,
            last_success=state.last_success if state else None, last_attempt=state.last_attempt if state else None,
            last_error=state.last_error if state else None, error_count=state.error_count if state else 0,
            url=safe_link(source.url), per_day=per_day.get(source.name, {})))
    return sorted(rows, key=SOURCE_SORTS.get(sort, SOURCE_SORTS["status"]))


def source_json(row: SourceRow) -> dict[str, Any]:
    return {"name": row.name, "kind": row.kind, "status": row.status, "detail": row.detail, "items_seen": row.items,
            "last_success": row.last_success.isoformat() if row.last_success else None,
            "last_attempt": row.last_attempt.isoformat() if row.last_attempt else None,
            "last_error": row.last_error, "errors_in_a_row": row.error_count, "link": row.url}


@dataclass(frozen=True)
class RuleRow:
    id: str
    title: str
    severity: str
    tags: tuple[str, ...]
    enabled: bool
    examples: int
    failing: tuple[str, ...]  # what each failing example says
    last_hit: datetime | None
    hits: int  # in the plotted period
    per_day: Mapping[date, int]


def rule_json(row: RuleRow) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "severity": row.severity, "tags": list(row.tags),
            "enabled": row.enabled, "examples": row.examples, "examples_failing": len(row.failing),
            "last_hit": row.last_hit.isoformat() if row.last_hit else None, "hits": row.hits}


def page_size(value: str | None, default: int, largest: int = 1000) -> int:
    try:
        return max(1, min(int(value), largest)) if value else default
    except ValueError:
        return default
