"""Alerts as text for each channel. Pure.

Article text is hostile. Control characters (terminal escapes, CR/LF) never reach an output; Slack
text is escaped by Slack's rules (`&`, `<`, `>`: https://api.slack.com/reference/surfaces/formatting#escaping)
so that a headline with `<!channel>` pings nobody and `<https://evil|click>` links nowhere; email
header text is one line without encoded-word lookalikes; HTML is escaped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any, TypedDict
from urllib.parse import quote, urlsplit

from monitor.models import Alert, AlertKind, Report, Snippet

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"

# Slack's limits (https://api.slack.com/reference/block-kit/blocks): a header's text 150 characters,
# a section's or context element's text 3000; the message `text` is cut at 40,000, 4,000 recommended.
SLACK_HEADER_MAX = 150
SLACK_TEXT_MAX = 3000
SLACK_FALLBACK_MAX = 3000
TITLE_MAX = 300  # an article title, before escaping
SNIPPET_MAX = 1200
SUBJECT_MAX = 200
SEVERITY_MARK = {"critical": "🚨", "high": "🔴", "medium": "🟠", "low": "🟡", "info": "🔵"}


def plain(text: str) -> str:
    """Text with control characters removed and whitespace runs folded to one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def when(moment: datetime | None, tz: tzinfo = UTC) -> str:
    if moment is None:
        return "date unknown"
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def voices(alert: Alert) -> list[str]:
    """The independent voices of the event, first first: each original report's domain (or source) once."""
    return list(dict.fromkeys(r.domain or r.source for r in alert.coverage if not r.copy)) or [alert.source]


def first_report(alert: Alert) -> Report:
    if alert.coverage:
        return alert.coverage[0]
    return Report(alert.source, alert.url, alert.title, alert.published)


def sources_line(alert: Alert, shown: int = 4) -> str:
    """"first reported by yonhap-en (yna.co.kr), then 2 more: nknews.org, reuters.com"."""
    first = first_report(alert)
    others = [v for v in voices(alert) if v != (first.domain or first.source)]
    line = f"first reported by {plain(first.source)}" + (f" ({first.domain})" if first.domain else "")
    if others:
        more = ", ".join(plain(v) for v in others[:shown]) + (f" and {len(others) - shown} others"
                                                            if len(others) > shown else "")
        line += f", then {len(others)} more: {more}"
    return line


def grading_label(alert: Alert) -> str:
    """"B2 · observed", "C3 · intent · denied": the Admiralty code and the evidence-ladder stage."""
    parts = [alert.grade or "", alert.stage or ""] + (["denied"] if alert.denied else [])
    return " · ".join(p for p in parts if p)


def grading_change(alert: Alert) -> str:
    """An update's move: "intent → observed, C3 → B1" (empty when neither changed)."""
    moves = [f"{a or 'none'} → {b}" for a, b in ((alert.stage_before, alert.stage), (alert.grade_before, alert.grade))
             if b and a != b and alert.kind is AlertKind.UPDATE]
    return ", ".join(moves)


def sources_count(alert: Alert) -> str:
    return f"{alert.source_count} source" + ("s" if alert.source_count != 1 else "")


# --- console -------------------------------------------------------------------------------------


def console_text(alert: Alert, color: bool = False) -> str:
    """A readable block: severity and rule, the article, where and when, the matched sentence marked."""
    graded = f" · {grading_label(alert)}" if grading_label(alert) else ""
    head = f"[{alert.severity.upper()}] {plain(alert.rule_title)}{graded}"
    if alert.kind is not AlertKind.ALERT:
        head += f" · {alert.kind.value.replace('_', '-')}, {sources_count(alert)}"
    if grading_change(alert):
        head += f" ({grading_change(alert)})"
    lines = [
        head,
        f"  {plain(alert.title)}",
        f"  {plain(alert.source)} · {when(alert.published)}",
        f"  {plain(alert.url)}",
    ]
    if alert.snippet:
        before, after = (_BOLD, _RESET) if color else ("**", "**")
        lines.append("  > " + text_snippet(alert.snippet, before, after))
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
        "grade": alert.grade,
        "stage": alert.stage,
        "denied": alert.denied,
    }
    if alert.kind is AlertKind.UPDATE:
        record.update(grade_before=alert.grade_before, stage_before=alert.stage_before)
    return json.dumps(record, ensure_ascii=False)


# --- Slack ---------------------------------------------------------------------------------------


class SlackMessage(TypedDict):
    text: str  # the fallback: notifications, screen readers, clients without blocks
    blocks: list[dict[str, Any]]


def slack_escape(text: str) -> str:
    """Slack's three escapes, after control characters are gone: no mention, link or markup survives."""
    return _slack_chars(plain(text))


def slack_cap(mrkdwn: str, limit: int = SLACK_TEXT_MAX) -> str:
    """Cut escaped mrkdwn to `limit` without splitting an `&amp;` entity or a `<…>` link."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: limit - 1]
    for opener, closer in (("&", ";"), ("<", ">")):
        start = cut.rfind(opener)
        if start != -1 and closer not in cut[start:]:
            cut = cut[:start]
    return cut + "…"


def safe_url(url: str) -> str | None:
    """An http(s) URL fit for `<url|label>`, or None: other schemes are never linked."""
    url = plain(url)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # `|` would end the URL part of a link and `<`, `>` a link itself: percent-encode them and spaces.
    return quote(url, safe="!#$%&'()*+,-./:;=?@[]~_")


def slack_link(url: str, label: str) -> str:
    target = safe_url(url)
    text = slack_escape(cap(plain(label), TITLE_MAX)) or "(no title)"
    if target is None:
        return text
    return f"<{target.replace('&', '&amp;')}|{text}>"


def slack_date(moment: datetime | None) -> str:
    """Slack shows a `<!date^…>` token in each reader's own time zone; the fallback is UTC."""
    if moment is None:
        return "date unknown"
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{when(moment)}>"


def slack_snippet(snippet: Snippet) -> str:
    """The matched sentence as a quote, the matched words in bold. Marks grow to whole words, since
    Slack bolds `*…*` only between word boundaries (a Korean particle attaches without a space)."""
    text = _CONTROL.sub(" ", snippet.text)
    out, cursor = [], 0
    for start, end in _whole_words(text, snippet.marks):
        term = _slack_chars(text[start:end])
        out += [_slack_chars(text[cursor:start]), f"*{term}*" if "*" not in term else term]
        cursor = end
    out.append(_slack_chars(text[cursor:]))
    return "> " + slack_cap(" ".join("".join(out).split()), SNIPPET_MAX)


def _slack_chars(text: str) -> str:
    """Slack's three escapes alone: for text whose spacing must stay (a snippet's marks index it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _whole_words(text: str, marks: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    grown: list[tuple[int, int]] = []
    for start, end in sorted(marks):
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        if grown and start <= grown[-1][1]:
            grown[-1] = (grown[-1][0], max(end, grown[-1][1]))
        else:
            grown.append((start, end))
    return grown


def _header(alert: Alert) -> dict[str, Any]:
    mark = SEVERITY_MARK.get(alert.severity, "")
    graded = f" · {grading_label(alert)}" if grading_label(alert) else ""
    text = f"{mark} {alert.severity.upper()}{graded} · {plain(alert.rule_title)}".strip()
    return {"type": "header", "text": {"type": "plain_text", "text": cap(text, SLACK_HEADER_MAX), "emoji": False}}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": slack_cap(mrkdwn)}}


def _context(*parts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_cap(p)} for p in parts if p]}


def _rules_and_tags(alert: Alert) -> str:
    rules = ", ".join(f"`{slack_escape(r)}`" for r in (alert.rule_ids or (alert.rule_id,)))
    tags = ", ".join(slack_escape(t) for t in alert.tags) or "-"
    return f"rule {rules} · tags {tags}"


def _sources_context(alert: Alert) -> str:
    return f"*{sources_count(alert)}*: " + slack_escape(sources_line(alert))


def _fallback(alert: Alert, lead: str = "") -> str:
    """The plain text of a message: what notifications and screen readers say."""
    count = sources_count(alert)
    if alert.kind is AlertKind.FOLLOW_UP:
        text = f"Also reported by {plain(alert.source)}: {plain(alert.title)} ({count})"
    else:
        lead += "Now " if alert.kind is AlertKind.UPDATE else ""
        graded = f" ({grading_label(alert)})" if grading_label(alert) else ""
        text = (f"{lead}[{alert.severity.upper()}] {plain(alert.rule_title)}{graded}: {plain(alert.title)} "
                f"({plain(alert.source)}, {count})")
    return slack_cap(slack_escape(text), SLACK_FALLBACK_MAX)


def slack_alert(alert: Alert) -> SlackMessage:
    """A new event: severity and rule; the article linked; source and time; the matched sentence;
    rule ids and tags; how many independent sources."""
    blocks = [
        _header(alert),
        _section(f"*{slack_link(alert.url, alert.title)}*\n"
                 f"{slack_escape(alert.source)} · {slack_date(alert.published)}"),
    ]
    if alert.snippet:
        blocks.append(_section(slack_snippet(alert.snippet)))
    blocks.append(_context(_rules_and_tags(alert), _sources_context(alert)))
    return {"text": _fallback(alert), "blocks": blocks}


def slack_parent(parent: Alert, latest: Alert) -> SlackMessage:
    """The event's first message as it stands now: its first article, the event's current severity,
    rules and source count (for `chat.update` when a follow-up arrives)."""
    now = replace(latest, kind=AlertKind.ALERT, title=parent.title, url=parent.url, source=parent.source,
                  published=parent.published, snippet=parent.snippet)
    return slack_alert(now)


def slack_reply(alert: Alert) -> SlackMessage:
    """A reply in the event's thread: another report (follow-up), the event more serious (update), or
    the event alerted again."""
    now = " ".join(p for p in (alert.severity.upper(), grading_label(alert)) if p)
    lead = {AlertKind.FOLLOW_UP: "Also reported by", AlertKind.UPDATE: f"Now {now}:",
            AlertKind.ALERT: "Alerted again:"}[alert.kind]
    lines = [f"*{lead}* {slack_escape(alert.source)}: {slack_link(alert.url, alert.title)} · "
             f"{slack_date(alert.published)}"]
    if alert.kind is not AlertKind.FOLLOW_UP and alert.snippet:
        lines.append(slack_snippet(alert.snippet))
    blocks = [_section("\n".join(lines)), _context(_sources_context(alert))]
    if alert.kind is AlertKind.UPDATE:
        blocks.insert(0, _header(alert))
    return {"text": _fallback(alert, "Alerted again: " if alert.kind is AlertKind.ALERT else ""), "blocks": blocks}


# --- email ---------------------------------------------------------------------------------------

# An RFC 2047 encoded word (`=?utf-8?q?=0D=0ABcc:…?=`) in article text could turn into a header line
# when a message is re-folded: break every `=?` so nothing in our text reads as one.
_ENCODED_WORD_START = re.compile(r"=\?")


def header_safe(text: str, limit: int = SUBJECT_MAX) -> str:
    """One line for an email header: no CR, LF or other control character, no encoded-word lookalike."""
    return cap(_ENCODED_WORD_START.sub("=\u200b?", plain(text)), limit)


def email_subject(alert: Alert) -> str:
    lead = {AlertKind.ALERT: "", AlertKind.UPDATE: "Update: ", AlertKind.FOLLOW_UP: "Also reported: "}[alert.kind]
    return header_safe(f"[{alert.severity.upper()}] {lead}{plain(alert.rule_title)}: {plain(alert.title)}")


def email_text(alert: Alert, tz: tzinfo = UTC) -> str:
    graded = f" · {grading_label(alert)}" if grading_label(alert) else ""
    lines = [
        f"[{alert.severity.upper()}] {plain(alert.rule_title)}{graded}",
        "",
        plain(alert.title),
        f"{plain(alert.source)} · {when(alert.published, tz)}",
        plain(alert.url),
        "",
    ]
    if alert.snippet:
        lines += ["> " + text_snippet(alert.snippet), ""]
    lines += [f"{sources_count(alert)}: {sources_line(alert)}",
              f"rule {', '.join(alert.rule_ids or (alert.rule_id,))} · tags {', '.join(alert.tags) or '-'}"]
    return "\n".join(lines) + "\n"


def text_snippet(snippet: Snippet, before: str = "**", after: str = "**") -> str:
    """The matched sentence on one line, the matched terms between `before` and `after`."""
    safe = replace(snippet, text=_CONTROL.sub(" ", snippet.text))  # same length: the marks hold
    return " ".join(safe.marked(before, after).split())


def html_snippet(snippet: Snippet) -> str:
    out, cursor = [], 0
    for start, end in sorted(snippet.marks):
        out += [html.escape(_CONTROL.sub(" ", snippet.text[cursor:start])),
                "<strong>", html.escape(_CONTROL.sub(" ", snippet.text[start:end])), "</strong>"]
        cursor = end
    out.append(html.escape(_CONTROL.sub(" ", snippet.text[cursor:])))
    return " ".join("".join(out).split())


def html_link(url: str, label: str) -> str:
    text = html.escape(cap(plain(label), TITLE_MAX)) or "(no title)"
    target = safe_url(url)
    return f'<a href="{html.escape(target, quote=True)}">{text}</a>' if target else text


def email_html(alert: Alert, tz: tzinfo = UTC) -> str:
    parts = [
        f"<p><strong>[{alert.severity.upper()}] {html.escape(plain(alert.rule_title))}</strong></p>",
        f"<p>{html_link(alert.url, alert.title)}<br>"
        f"{html.escape(plain(alert.source))} · {html.escape(when(alert.published, tz))}</p>",
    ]
    if alert.snippet:
        parts.append(f"<blockquote>{html_snippet(alert.snippet)}</blockquote>")
    parts.append(f"<p>{html.escape(sources_count(alert))}: {html.escape(sources_line(alert))}<br>"
                 f"rule {html.escape(', '.join(alert.rule_ids or (alert.rule_id,)))} · "
                 f"tags {html.escape(', '.join(alert.tags) or '-')}</p>")
    return html_page(email_subject(alert), "\n".join(parts))  # the subject is already header-safe


def html_page(title: str, body: str, style: Sequence[str] = ()) -> str:
    css = "\n".join(style)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            + (f"<style>\n{css}\n</style>" if css else "") + f"</head>\n<body>\n{body}\n</body></html>\n")
