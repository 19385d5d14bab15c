"""Alerts as text for each channel. Pure. Article text is hostile: control characters (terminal escape
sequences included) never reach an output."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from monitor.models import Alert

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"


def plain(text: str) -> str:
    """Text with control characters removed and whitespace runs folded to one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def console_text(alert: Alert, color: bool = False) -> str:
    """A readable block: severity and rule, the article, where and when, the matched sentence marked."""
    when = alert.published.strftime("%Y-%m-%d %H:%M UTC") if alert.published else "date unknown"
    lines = [
        f"[{alert.severity.upper()}] {plain(alert.rule_title)}",
        f"  {plain(alert.title)}",
        f"  {plain(alert.source)} · {when}",
        f"  {plain(alert.url)}",
    ]
    if alert.snippet:
        before, after = (_BOLD, _RESET) if color else ("**", "**")
        safe = replace(alert.snippet, text=_CONTROL.sub(" ", alert.snippet.text))  # same length: marks hold
        lines.append("  > " + " ".join(safe.marked(before, after).split()))
    lines.append(f"  rule {alert.rule_id} · tags {', '.join(alert.tags) or '-'}")
    return "\n".join(lines) + "\n"


def console_json(alert: Alert) -> str:
    """One JSON object on one line (JSON escapes every control character)."""
    record = {
        "rule_id": alert.rule_id,
        "rule_title": alert.rule_title,
        "severity": alert.severity,
        "tags": list(alert.tags),
        "title": alert.title,
        "url": alert.url,
        "source": alert.source,
        "published": alert.published.isoformat() if alert.published else None,
        "matched_at": alert.matched_at.isoformat(),
        "event_id": alert.event_id,
        "kind": alert.kind.value,
        "rule_ids": list(alert.rule_ids),
        "sources": alert.source_count,
        "snippet": alert.snippet.text if alert.snippet else None,
        "highlights": [alert.snippet.text[a:b] for a, b in alert.snippet.marks] if alert.snippet else [],
    }
    return json.dumps(record, ensure_ascii=False)
