"""Lint issues of a rule set that loaded: what is suspicious or slow, and the rules' own examples.

Load errors stop a rule set (see `loader`); these never do. Each issue has a severity: `error` (an
example fails: the rule does not do what its author said), `warning` (probably a mistake), `info`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from monitor.models import Article
from monitor.rules.compiler import requirements
from monitor.rules.evaluate import Matcher
from monitor.rules.model import (
    AllOf,
    ConceptRef,
    Condition,
    Example,
    Location,
    Near,
    NoneOf,
    Piece,
    Rule,
    RuleSet,
    Term,
    TermRef,
    children_of,
    leaves,
)
from monitor.rules.stages import STAGE_CONCEPTS

SEVERITY_ORDER = ("error", "warning", "info")


@dataclass(frozen=True)
class Issue:
    severity: str  # error | warning | info
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


def lint(ruleset: RuleSet) -> list[Issue]:
    """Every lint issue of the rule set, most severe first, then by place."""
    issues = _unused_concepts(ruleset) + _term_issues(ruleset)
    for rule in ruleset.rules:
        issues += _rule_issues(rule, ruleset)
    return sorted(issues, key=lambda i: (SEVERITY_ORDER.index(i.severity), i.location.file, i.location.line))


def run_examples(ruleset: RuleSet) -> list[Issue]:
    """Each rule's `examples` run through the engine (disabled rules too): a failing one is an error."""
    rules = [r for r in ruleset.rules if r.examples]
    if not rules:
        return []
    matcher = Matcher(ruleset, rules)
    issues = []
    for rule in rules:
        for example in rule.examples:
            article = Article(source=example.source, guid="example", url="", title=example.title,
                              content=example.text, language=example.language)
            matched = any(m.rule_id == rule.id for m in matcher.match(article))
            if matched != example.expect:
                should = "should match but does not" if example.expect else "should not match but does"
                issues.append(Issue("error", example.location, f'{rule.id}: example {should}: "{_short(example)}"; '
                                    f"see why with `monitor rules explain {rule.id} --text …`"))
    return issues


def _short(example: Example) -> str:
    text = example.text or example.title
    return text if len(text) <= 80 else text[:77] + "…"


def _unused_concepts(ruleset: RuleSet) -> list[Issue]:
    used = {leaf.name for r in ruleset.rules for leaf in leaves(r.condition, positive=False)
            if isinstance(leaf, ConceptRef)} | set(STAGE_CONCEPTS)  # the evidence ladder reads these
    return [Issue("warning", c.location, f'concept "{c.name}" is used by no rule; use it or remove it')
            for c in ruleset.concepts.values() if c.name not in used and not c.builtin]


def _term_issues(ruleset: RuleSet) -> list[Issue]:
    issues = []
    for concept in ruleset.concepts.values():
        if concept.builtin:
            continue
        terms = [t for t, _ in concept.all_terms()]
        for term in terms:
            issues += _one_term(term, term.location, f'concept "{concept.name}"')
        twice = [k for k, n in Counter(t.key for t in terms).items() if n > 1]
        if twice:
            issues.append(Issue("info", concept.location,
                                f'concept "{concept.name}" lists the same term more than once: {", ".join(twice[:5])}'))
    return issues


def _one_term(term: Term, where: Location, owner: str) -> list[Issue]:
    if term.regex is not None:
        return [Issue("info", where, f"{owner}: {term.text} is a regular expression: it runs on the slow path, "
                                     "only when its rule is still undecided")]
    if len(term.pieces) == 1 and _short_prefix(term.pieces[0]):
        return [Issue("warning", where, f'{owner}: "{term.text}" is a prefix of {len(term.pieces[0].pattern)} '
                                        f"letters and matches many words (war* finds Warsaw); lengthen it")]
    return []


def _short_prefix(piece: Piece) -> bool:
    """A lone open word of at most three Latin, Greek or Cyrillic letters (Arabic and Hebrew roots are
    three letters by nature, and an infix `*…*` is written on purpose)."""
    word = piece.pattern
    alphabetic = all(ord(c) < 0x0530 for c in word)
    return piece.open_right and not piece.open_left and len(word) <= 3 and word.isalpha() and alphabetic


def _rule_issues(rule: Rule, ruleset: RuleSet) -> list[Issue]:
    issues = []
    where = rule.location
    for leaf in leaves(rule.condition, positive=False):
        if isinstance(leaf, TermRef):
            issues += _one_term(leaf.term, leaf.term.location, f"rule {rule.id}")
    if not requirements(rule.condition, frozenset()):
        issues.append(Issue("warning", where, f"rule {rule.id} has no term or concept outside a `not`: it can "
                                              "match articles that mention nothing of its subject"))
    contradiction = _contradiction(rule.condition)
    if contradiction:
        issues.append(Issue("warning", where, f"rule {rule.id} can never match: {contradiction}"))
    if not rule.enabled:
        issues.append(Issue("info", where, f"rule {rule.id} is disabled"))
    if not rule.examples:
        issues.append(Issue("info", where, f"rule {rule.id} has no examples; add `examples: {{match: [...], "
                                           "no_match: [...]}` so `rules check` can test it"))
    elif not any(e.expect for e in rule.examples) or all(e.expect for e in rule.examples):
        issues.append(Issue("info", where, f"rule {rule.id} has examples of one kind only; give both match and "
                                           "no_match"))
    for language in _term_languages(rule, ruleset) - rule.languages if rule.languages else ():
        issues.append(Issue("info", where, f"rule {rule.id} reads only {', '.join(sorted(rule.languages))}: "
                                           f"its terms for {language} never count"))
    return issues


def _contradiction(condition: Condition) -> str | None:
    """A leaf required and excluded at the same level (`all: [A, not: A]`, or inside one `near`)."""
    if isinstance(condition, AllOf | Near):
        parts = children_of(condition)
        required = {p.key for p in parts if isinstance(p, ConceptRef | TermRef)}
        excluded = {c.key for p in parts if isinstance(p, NoneOf) for c in p.children
                    if isinstance(c, ConceptRef | TermRef)}
        both = required & excluded
        if both:
            return f"{sorted(both)[0]} is both required and excluded"
    for child in children_of(condition):
        found = _contradiction(child)
        if found:
            return found
    return None


def _term_languages(rule: Rule, ruleset: RuleSet) -> set[str]:
    languages: set[str] = set()
    for leaf in leaves(rule.condition):
        terms = [leaf.term] if isinstance(leaf, TermRef) else [t for t, _ in ruleset.concepts[leaf.name].all_terms()] \
            if isinstance(leaf, ConceptRef) else []
        for term in terms:
            languages |= term.languages
    return languages
