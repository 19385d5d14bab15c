"""The email digest as data, and as HTML and plain text. Pure: the outbox gathers the inputs.

A digest lists each event whose alerts were queued for it since the last digest, grouped by severity
then rule, and says what changed since the event was last in a digest. It ends with what the events
stage held back and why, so that a quiet digest can be trusted.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from monitor.models import SEVERITIES, Alert, severity_rank
from monitor.notify.render import (
    first_report,
    grading_label,
    header_safe,
    html_link,
    html_page,
    html_snippet,
    plain,
    sources_count,
    sources_line,
    text_snippet,
    when,
)


@dataclass(frozen=True)
class Queued:
    """An alert waiting in the outbox for the next digest of one notifier."""

    delivery_id: int
    alert: Alert


@dataclass(frozen=True)
class HeldRecord:
    """One report the events stage did not alert on: held for corroboration, silenced, or a copy."""

    event_id: int
    event_title: str
    decision: str  # the events stage's decision: hold, ignore, follow_up, …
    reason: str
    copy: bool  # a near-duplicate of a report the event already had
    source: str
    title: str


@dataclass(frozen=True)
class Entry:
    latest: Alert  # the event as it stands: its last alert in this digest
    first: Alert  # its first alert in this digest
    changes: tuple[str, ...]

    @property
    def new(self) -> bool:
        return self.changes == ("new",)


@dataclass(frozen=True)
class RuleGroup:
    rule_id: str
    rule_title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class SeverityGroup:
    severity: str
    rules: tuple[RuleGroup, ...]


@dataclass(frozen=True)
class HeldGroup:
    """A line of the "held back" section: what, how many, and which events."""

    what: str
    count: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Digest:
    notifier: str
    since: datetime | None  # the previous digest, if any
    until: datetime
    groups: tuple[SeverityGroup, ...]
    held: tuple[HeldGroup, ...]
    delivery_ids: tuple[int, ...]  # the outbox rows this digest carries: marked sent once accepted
    alerts: tuple[Alert, ...] = ()  # their alerts (for the delivery-latency metric)

    @property
    def entries(self) -> list[Entry]:
        return [e for g in self.groups for r in g.rules for e in r.entries]

    @property
    def empty(self) -> bool:
        return not self.entries


def build_digest(notifier: str, queued: Sequence[Queued], previous: Mapping[int, Alert],
                 held: Sequence[HeldRecord], since: datetime | None, until: datetime) -> Digest:
    """`previous`: for events already in an earlier digest, the alert that digest showed."""
    by_event: dict[int, list[Alert]] = {}
    for item in sorted(queued, key=lambda q: q.alert.id or 0):
        by_event.setdefault(item.alert.event_id, []).append(item.alert)
    entries = [Entry(alerts[-1], alerts[0], changes(alerts[-1], previous.get(event_id)))
               for event_id, alerts in by_event.items()]
    return Digest(notifier, since, until, _grouped(entries), held_groups(held),
                  tuple(q.delivery_id for q in queued), tuple(q.alert for q in queued))


def changes(latest: Alert, before: Alert | None) -> tuple[str, ...]:
    """What changed since the event's last digest: "new", more sources, a higher severity, new rules."""
    if before is None:
        return ("new",)
    found = []
    if latest.source_count > before.source_count:
        more = latest.source_count - before.source_count
        found.append(f"{more} more source{'s' if more > 1 else ''} since the last digest "
                     f"(now {latest.source_count})")
    if severity_rank(latest.severity) > severity_rank(before.severity):
        found.append(f"severity raised from {before.severity} to {latest.severity}")
    if latest.stage != before.stage and latest.stage:
        found.append(f"stage from {before.stage or 'none'} to {latest.stage}")
    if latest.grade != before.grade and latest.grade:
        found.append(f"grade from {before.grade or 'none'} to {latest.grade}")
    added = [r for r in latest.rule_ids if r not in before.rule_ids]
    if added:
        found.append("now also matches " + ", ".join(added))
    return tuple(found) or (f"reported again by {plain(latest.source)}",)


def _grouped(entries: Sequence[Entry]) -> tuple[SeverityGroup, ...]:
    groups = []
    for severity in reversed(SEVERITIES):
        in_severity = [e for e in entries if e.latest.severity == severity]
        rules: dict[str, list[Entry]] = {}
        for entry in in_severity:
            rules.setdefault(entry.latest.rule_id, []).append(entry)
        if rules:
            groups.append(SeverityGroup(severity, tuple(
                RuleGroup(rule_id, items[0].latest.rule_title, tuple(items))
                for rule_id, items in sorted(rules.items(), key=lambda kv: plain(kv[1][0].latest.rule_title))
            )))
    return tuple(groups)


def held_groups(held: Sequence[HeldRecord]) -> tuple[HeldGroup, ...]:
    """Copies merged, events held for corroboration, reports silenced: counted, with their events."""
    kinds = (("duplicate report{s} merged into their events", "copy"),
             ("report{s} held for corroboration", "hold"),
             ("report{s} silenced", "ignore"))
    groups = []
    for what, kind in kinds:
        chosen = [r for r in held if (r.copy if kind == "copy" else not r.copy and r.decision == kind)]
        if not chosen:
            continue
        per_event: dict[int, list[HeldRecord]] = {}
        for record in chosen:
            per_event.setdefault(record.event_id, []).append(record)
        lines = tuple(
            f"{plain(records[0].event_title)}: {len(records)} report{'s' if len(records) > 1 else ''} "
            f"({', '.join(dict.fromkeys(plain(r.source) for r in records))}); {plain(records[-1].reason)}"
            for records in per_event.values()
        )
        groups.append(HeldGroup(what.format(s="s" if len(chosen) > 1 else ""), len(chosen), lines))
    return tuple(groups)


# --- rendering -----------------------------------------------------------------------------------


def digest_subject(digest: Digest, tz: tzinfo = UTC) -> str:
    entries = digest.entries
    counts = [f"{sum(e.latest.severity == s for e in entries)} {s}" for s in reversed(SEVERITIES)
              if any(e.latest.severity == s for e in entries)]
    what = f"{len(entries)} event{'s' if len(entries) != 1 else ''}" + (f" ({', '.join(counts)})" if counts else "")
    return header_safe(f"monitor digest: {what} · {digest.until.astimezone(tz).strftime('%a %d %b %Y %H:%M')}")


def _period(digest: Digest, tz: tzinfo) -> str:
    start = when(digest.since, tz) if digest.since else "the start"
    return f"from {start} to {when(digest.until, tz)}"


def _entry_text(entry: Entry, tz: tzinfo) -> list[str]:
    alert, first = entry.latest, first_report(entry.latest)
    lines = [f"* {plain(first.title)}", f"  {plain(first.url)}",
             f"  {sources_count(alert)}: {sources_line(alert)}; published {when(first.published, tz)}"]
    if grading_label(alert):
        lines.append(f"  graded {grading_label(alert)}")
    snippet = entry.first.snippet or alert.snippet
    if snippet:
        lines.append("  > " + text_snippet(snippet))
    lines.append("  " + ("new" if entry.new else "changed: " + "; ".join(entry.changes)))
    return lines


def digest_text(digest: Digest, tz: tzinfo = UTC) -> str:
    lines = [f"monitor digest for {digest.notifier}, {_period(digest, tz)}", ""]
    if digest.empty:
        lines += ["No new events.", ""]
    for group in digest.groups:
        lines += [f"== {group.severity.upper()} ==", ""]
        for rule in group.rules:
            lines += [f"-- {plain(rule.rule_title)} ({rule.rule_id}) --"]
            for entry in rule.entries:
                lines += _entry_text(entry, tz) + [""]
    lines += ["== Held back ==", ""]
    if not digest.held:
        lines.append("Nothing was held back: every matching report is in an event above or an earlier digest.")
    for held in digest.held:
        lines.append(f"{held.count} {held.what}:")
        lines += [f"  - {line}" for line in held.lines]
    return "\n".join(lines) + "\n"


_STYLE = (
    "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:46em;margin:1em auto;color:#222}",
    "h2{border-bottom:2px solid #ccc;padding-bottom:.2em}",
    "h2.critical,h2.high{border-color:#c62828}h2.medium{border-color:#ef6c00}",
    "h3{color:#555;font-size:1em}",
    "blockquote{border-left:3px solid #ccc;margin:.4em 0;padding-left:.8em;color:#444}",
    ".meta{color:#666;font-size:.9em}.change{color:#2e7d32;font-size:.9em}",
)


def _entry_html(entry: Entry, tz: tzinfo) -> str:
    alert, first = entry.latest, first_report(entry.latest)
    snippet = entry.first.snippet or alert.snippet
    change = "new" if entry.new else "changed: " + "; ".join(entry.changes)
    return (
        f"<li><p><strong>{html_link(first.url, first.title)}</strong>"
        + (f" ({html.escape(grading_label(alert))})" if grading_label(alert) else "") + "<br>\n"
        f'<span class="meta">{html.escape(sources_count(alert))}: {html.escape(sources_line(alert))}; '
        f"published {html.escape(when(first.published, tz))}</span></p>\n"
        + (f"<blockquote>{html_snippet(snippet)}</blockquote>\n" if snippet else "")
        + f'<p class="change">{html.escape(change)}</p></li>'
    )


def digest_html(digest: Digest, tz: tzinfo = UTC) -> str:
    parts = [f"<h1>monitor digest</h1>\n<p class=\"meta\">{html.escape(digest.notifier)}, "
             f"{html.escape(_period(digest, tz))}</p>"]
    if digest.empty:
        parts.append("<p>No new events.</p>")
    for group in digest.groups:
        parts.append(f'<h2 class="{group.severity}">{group.severity.upper()}</h2>')
        for rule in group.rules:
            parts.append(f"<h3>{html.escape(plain(rule.rule_title))} <code>{html.escape(rule.rule_id)}</code></h3>")
            parts.append("<ul>\n" + "\n".join(_entry_html(e, tz) for e in rule.entries) + "\n</ul>")
    parts.append("<h2>Held back</h2>")
    if not digest.held:
        parts.append("<p>Nothing was held back: every matching report is in an event above or an earlier digest.</p>")
    for held in digest.held:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in held.lines)
        parts.append(f"<p>{held.count} {html.escape(held.what)}:</p>\n<ul>{items}</ul>")
    return html_page(digest_subject(digest, tz), "\n".join(parts), _STYLE)
