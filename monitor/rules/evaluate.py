"""Hits + the condition tree → whether a rule matched, and the evidence that made it so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from monitor.models import FIELDS, Article, Match, Snippet, Span
from monitor.rules.compiler import CompiledRules, Hit
from monitor.rules.model import AllOf, AnyOf, ConceptRef, Condition, Near, NoneOf, Rule, RuleSet, TermRef
from monitor.text import Document

Evidence = tuple[Hit, ...]


@dataclass(frozen=True)
class Scope:
    """The hits a condition may look at: the whole article, or one window of it."""

    by_key: dict[str, list[Hit]]

    @classmethod
    def of(cls, hits: Iterable[Hit]) -> Scope:
        by_key: dict[str, list[Hit]] = defaultdict(list)
        for hit in hits:
            by_key[hit.key].append(hit)
        return cls(dict(by_key))

    def only(self, keep: Callable[[Hit], bool]) -> Scope:
        return Scope({k: kept for k, hits in self.by_key.items() if (kept := [h for h in hits if keep(h)])})

    def hits(self) -> Iterable[Hit]:
        for hits in self.by_key.values():
            yield from hits


def holds(condition: Condition, scope: Scope) -> Evidence | None:
    """The evidence for `condition` within `scope`, or None when it does not hold."""
    if isinstance(condition, ConceptRef | TermRef):
        found = scope.by_key.get(condition.key)
        return tuple(found) if found else None
    if isinstance(condition, AllOf):
        evidence: list[Hit] = []
        for child in condition.children:
            part = holds(child, scope)
            if part is None:
                return None
            evidence += part
        return tuple(evidence)
    if isinstance(condition, AnyOf):
        return next((e for c in condition.children if (e := holds(c, scope)) is not None), None)
    if isinstance(condition, NoneOf):
        return None if any(holds(c, scope) is not None for c in condition.children) else ()
    return _near(condition, scope)


def _near(near: Near, scope: Scope) -> Evidence | None:
    for window in _windows(near, scope):
        inside = scope.only(window)
        parts = [holds(operand, inside) for operand in near.operands]
        if all(p is not None for p in parts):
            return tuple(h for p in parts if p for h in p)
    return None


def _windows(near: Near, scope: Scope) -> Iterable[Callable[[Hit], bool]]:
    """One predicate per candidate window, anchored on the hits in scope."""
    unit, size = near.window.unit, near.window.size
    seen: set[tuple[str, int]] = set()
    for anchor in sorted(scope.hits(), key=lambda h: (h.field, h.start)):
        if unit == "words":
            place = (anchor.field, anchor.word)
        else:
            place = (anchor.field, anchor.sentence if unit == "sentence" else anchor.paragraph)
        if place in seen:
            continue
        seen.add(place)
        yield _window_predicate(unit, size, *place)


def _window_predicate(unit: str, size: int, field: str, number: int) -> Callable[[Hit], bool]:
    if unit == "words":
        return lambda h: h.field == field and number <= h.word <= number + size + 1  # N words between
    if unit == "sentence":
        return lambda h: h.field == field and h.sentence == number
    return lambda h: h.field == field and h.paragraph == number


class Matcher:
    """The compiled rule set, ready to match articles. Pure: text in, matches out."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.compiled = CompiledRules(ruleset)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.compiled.rules

    def match(self, article: Article) -> list[Match]:
        docs = {f: Document.of(article.text_of(f)) for f in FIELDS if article.text_of(f).strip()}
        hits = [h for field, doc in docs.items() for h in self.compiled.scan(field, doc)]
        if not hits:
            return []
        scope = Scope.of(hits)
        present = set(scope.by_key)
        matches = []
        for rule in self.compiled.rules:
            keys = self.compiled.rule_keys[rule.id]
            if not keys & present:
                continue
            rule_scope = scope if rule.fields == FIELDS else scope.only(_in_fields(rule.fields))
            evidence = holds(rule.condition, rule_scope)
            if evidence is not None:
                matches.append(_match(rule, evidence, rule_scope, keys, docs))
        return matches


def _in_fields(fields: tuple[str, ...]) -> Callable[[Hit], bool]:
    return lambda hit: hit.field in fields


def _match(rule: Rule, evidence: Evidence, scope: Scope, keys: frozenset[str], docs: dict[str, Document]) -> Match:
    unique = sorted(set(evidence), key=lambda h: (FIELDS.index(h.field), h.start))
    spans = tuple(_span(h, docs[h.field]) for h in unique)
    entities = tuple(sorted({h.entity for h in unique if h.entity}))
    return Match(rule.id, rule.title, rule.severity, rule.tags, spans, _snippet(unique, scope, keys, docs), entities)


def _span(hit: Hit, doc: Document) -> Span:
    start, end = doc.folded.original_span(hit.start, hit.end)
    concept = hit.key.removeprefix("concept:") if hit.key.startswith("concept:") else None
    return Span(hit.field, start, end, doc.original[start:end], hit.term.text, concept, hit.entity)


def _snippet(evidence: list[Hit], scope: Scope, keys: frozenset[str], docs: dict[str, Document]) -> Snippet | None:
    """The sentence holding most of the evidence (a body sentence over the headline on a tie)."""
    if not evidence:
        return None
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for hit in evidence:
        counts[(hit.field, hit.sentence)] += 1
    field, number = max(counts, key=lambda place: (counts[place], place[0] != "title", -place[1]))
    doc = docs[field]
    start, end = doc.original_sentence(number)
    marks: list[tuple[int, int]] = []
    in_sentence = [h for h in scope.hits() if h.key in keys and h.field == field and h.sentence == number]
    for hit in sorted(in_sentence, key=lambda h: (h.start, -h.end)):
        a, b = doc.folded.original_span(hit.start, hit.end)
        a, b = max(a, start) - start, min(b, end) - start
        if marks and a < marks[-1][1]:
            marks[-1] = (marks[-1][0], max(marks[-1][1], b))
        elif b > a:
            marks.append((a, b))
    return Snippet(field, doc.original[start:end], tuple(marks))
