"""Why a rule did or did not match a text: the condition tree with each node true or false, and the spans
that made it so. Each node is judged in the scope its parent gave it (a `near` hands its operands the
window where it held, or, when it held nowhere, the whole scope, to show which operand is missing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.models import FIELDS, Article
from monitor.rules.compiler import Hit
from monitor.rules.evaluate import Matcher, Scope, skipped_because, span_of
from monitor.rules.model import (
    AllOf,
    AnyOf,
    ConceptRef,
    Condition,
    Count,
    InFields,
    Near,
    NoneOf,
    Rule,
    TermRef,
    Year,
    children_of,
)


@dataclass(frozen=True)
class Node:
    label: str
    holds: bool
    spans: tuple[str, ...] = ()  # "field start-end «text»"
    note: str = ""
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Explanation:
    rule: Rule
    matched: bool
    skipped: str | None  # a filter (languages, sources) kept the rule from looking
    language: str | None
    tree: Node | None


def explain(matcher: Matcher, rule_id: str, article: Article, source_tags: Iterable[str] = ()) -> Explanation:
    """`matcher` must hold the rule (build it with `Matcher(ruleset, [rule])` for a disabled one)."""
    rule = next(r for r in matcher.rules if r.id == rule_id)
    scope, state = matcher.prepare(article)
    skipped = skipped_because(rule, article, state.language, source_tags)
    if skipped:
        return Explanation(rule, False, skipped, state.language, None)
    tree = _node(matcher, rule.condition, scope.in_fields(rule.fields))
    return Explanation(rule, tree.holds, None, state.language, tree)


def _node(matcher: Matcher, condition: Condition, scope: Scope) -> Node:
    evidence = matcher.evaluator.holds(condition, scope)
    holds = evidence is not None
    label = _label(condition)
    if isinstance(condition, ConceptRef | TermRef | Year | Count):
        hits = scope.get(condition.leaf.key if isinstance(condition, Count) else condition.key)
        return Node(label, holds, _spans(scope, hits))
    if isinstance(condition, Near):
        found = matcher.evaluator.near(condition, scope)
        inner = found[1] if found else scope
        note = "" if found else f"never all together {_within(condition)}"
        children = tuple(_node(matcher, c, inner) for c in condition.operands)
        return Node(label, holds, note=note, children=children)
    if isinstance(condition, InFields):
        scope = scope.in_fields(condition.fields)
    return Node(label, holds, children=tuple(_node(matcher, c, scope) for c in children_of(condition)))


def _within(near: Near) -> str:
    window = near.window
    return f"within {window}" if window.unit in ("words", "chars") else f"in one {window}"


def _label(condition: Condition) -> str:
    if isinstance(condition, ConceptRef):
        return f"concept {condition.name}"
    if isinstance(condition, TermRef):
        return f'term "{condition.term.text}"'
    if isinstance(condition, Year):
        return f"year {condition.first}–{condition.last}"
    if isinstance(condition, Count):
        return f"count {_label(condition.leaf)} at least {condition.at_least}"
    if isinstance(condition, Near):
        return f"near within {condition.window}" + (", ordered" if condition.ordered else "")
    if isinstance(condition, InFields):
        return f"field {', '.join(condition.fields)}"
    return {AllOf: "all", AnyOf: "any", NoneOf: "not"}[type(condition)]


def _spans(scope: Scope, hits: list[Hit]) -> tuple[str, ...]:
    docs = scope.article.docs
    out: dict[str, None] = {}
    for hit in sorted(hits, key=lambda h: (FIELDS.index(h.field), h.start)):
        span = span_of(hit, docs[hit.field])
        out[f"{span.field} {span.start}-{span.end} «{span.text}»"] = None
    return tuple(out)


def render(explanation: Explanation) -> str:
    rule = explanation.rule
    verdict = "MATCH" if explanation.matched else "no match"
    lines = [f"{rule.id}: {verdict} (article language: {explanation.language or 'unknown'})"]
    if explanation.skipped:
        lines.append(f"  not evaluated: {explanation.skipped}")
    if explanation.tree:
        lines += _render(explanation.tree, 1)
    return "\n".join(lines)


def _render(node: Node, depth: int) -> list[str]:
    pad = "  " * depth
    mark = "✓" if node.holds else "✗"
    lines = [f"{pad}{mark} {node.label}" + (f"  ({node.note})" if node.note else "")]
    lines += [f"{pad}    {span}" for span in node.spans[:8]]
    if len(node.spans) > 8:
        lines.append(f"{pad}    … and {len(node.spans) - 8} more")
    for child in node.children:
        lines += _render(child, depth + 1)
    return lines
