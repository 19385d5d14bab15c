"""Hits + the condition tree → whether a rule matched, and the evidence that made it so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from typing import NamedTuple

from monitor.models import FIELDS, Article, Match, Snippet, Span
from monitor.rules.compiler import CompiledRules, Hit, requirements
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
    RuleSet,
    TermRef,
    Window,
    Year,
    leaves,
)
from monitor.text import Document, script_language

Evidence = tuple[Hit, ...]


def documents(article: Article) -> dict[str, Document]:
    """The article's fields that hold text, prepared for matching."""
    return {f: Document(article.text_of(f)) for f in FIELDS if article.text_of(f).strip()}


def article_language(article: Article) -> str | None:
    """The article's language (primary subtag), else the one its script tells, else None."""
    if article.language:
        return article.language.replace("_", "-").split("-")[0].strip().lower() or None
    return script_language(" ".join(article.text_of(f) for f in FIELDS))


class Scope:
    """The hits a condition may look at: the whole article, some of its fields, or one window.

    `keep` says whether a hit belongs here; it filters the hits found lazily (regex terms, years)."""

    __slots__ = ("by_key", "article", "keep", "_merged", "_windows", "_fields")

    def __init__(self, by_key: dict[str, list[Hit]], article: ArticleState,
                 keep: Callable[[Hit], bool] | None = None, merged: Iterable[str] = ()) -> None:
        self.by_key = by_key
        self.article = article
        self.keep = keep
        self._merged = set(merged)  # lazy keys whose hits are already in `by_key`
        self._windows: dict[tuple[Window, frozenset[str]], list[Scope]] = {}
        self._fields: dict[tuple[str, ...], Scope] = {}

    def hits(self) -> Iterable[Hit]:
        for hits in self.by_key.values():
            yield from hits

    def get(self, key: str) -> list[Hit]:
        """The hits of a key; a lazy key (regex, year) is looked for on first use."""
        if key in self.article.compiled.lazy_keys and key not in self._merged:
            self._merged.add(key)
            extra = [h for h in self.article.lazy_hits(key) if self.keep is None or self.keep(h)]
            if extra:
                self.by_key[key] = self.by_key.get(key, []) + extra
                self._windows.clear()
        return self.by_key.get(key, [])

    def in_fields(self, fields: tuple[str, ...]) -> Scope:
        if fields == FIELDS:
            return self
        scope = self._fields.get(fields)
        if scope is None:
            def keep(hit: Hit) -> bool:
                return hit.field in fields and (self.keep is None or self.keep(hit))

            by_key = {k: kept for k, hits in self.by_key.items() if (kept := [h for h in hits if h.field in fields])}
            scope = self._fields[fields] = Scope(by_key, self.article, keep, self._merged)
        return scope

    def windows(self, window: Window, keys: frozenset[str], anchors: frozenset[str]) -> list[Scope]:
        """The windows with hits of `keys` in them, each holding only those keys' hits. A window of words or
        characters starts at a hit of one of the `anchors` keys (a near's positive leaves)."""
        found = self._windows.get((window, keys))
        if found is None:
            found = self._windows[(window, keys)] = list(self._make_windows(window, keys, anchors))
        return found

    def _make_windows(self, window: Window, keys: frozenset[str], anchors: frozenset[str]) -> Iterable[Scope]:
        docs = self.article.docs
        ordered = sorted((h for k in keys for h in self.by_key.get(k, ())), key=lambda h: (h.field, h.start))
        if window.unit in ("sentence", "paragraph"):
            groups: dict[tuple[str, int], list[Hit]] = defaultdict(list)
            for hit in ordered:
                doc = docs[hit.field]
                number = doc.sentence_at(hit.start) if window.unit == "sentence" else doc.paragraph_at(hit.start)
                groups[(hit.field, number)].append(hit)
            for (field, number), hits in groups.items():
                yield self._window(hits, _block(window.unit, field, number, docs[field]))
            return
        position: Callable[[Hit], int]
        seen: set[tuple[str, int]] = set()
        for i, anchor in enumerate(ordered):
            if anchor.key not in anchors:
                continue
            doc = docs[anchor.field]
            if window.unit == "words":
                first = doc.word_at(anchor.start)
                last = first + window.size + 1
                position = _word_of(doc)
            else:
                first, last = anchor.start, anchor.end + window.size
                position = _start_of
            if (anchor.field, first) in seen:
                continue
            seen.add((anchor.field, first))
            inside = []
            for hit in ordered[i:]:
                if hit.field != anchor.field or position(hit) > last:
                    break
                inside.append(hit)
            yield self._window(inside, _span_keep(anchor.field, first, last, position))

    def _window(self, hits: list[Hit], keep: Callable[[Hit], bool]) -> Scope:
        by_key: dict[str, list[Hit]] = defaultdict(list)
        for hit in hits:
            by_key[hit.key].append(hit)
        return Scope(dict(by_key), self.article, keep, self._merged)


def _block(unit: str, field: str, number: int, doc: Document) -> Callable[[Hit], bool]:
    at = doc.sentence_at if unit == "sentence" else doc.paragraph_at
    return lambda hit: hit.field == field and at(hit.start) == number


def _word_of(doc: Document) -> Callable[[Hit], int]:
    return lambda hit: doc.word_at(hit.start)


def _start_of(hit: Hit) -> int:
    return hit.start


def _span_keep(field: str, first: int, last: int, position: Callable[[Hit], int]) -> Callable[[Hit], bool]:
    return lambda hit: hit.field == field and first <= position(hit) <= last


class ArticleState:
    """One article being matched: its fields as documents, its language, the lazily found hits."""

    def __init__(self, compiled: CompiledRules, docs: dict[str, Document], language: str | None) -> None:
        self.compiled = compiled
        self.docs = docs
        self.language = language
        self._lazy: dict[str, list[Hit]] = {}

    def lazy_hits(self, key: str) -> list[Hit]:
        found = self._lazy.get(key)
        if found is None:
            found = self._lazy[key] = [h for f, doc in self.docs.items()
                                       for h in self.compiled.lazy_hits(key, f, doc)]
        return found


class _NearPlan(NamedTuple):
    groups: list[frozenset[str]]  # one key of each must be in a window for it to be worth a look
    keys: frozenset[str]  # every leaf key of the near: what its windows hold
    anchors: frozenset[str]  # the positive ones: where a window of words or characters may start


class Evaluator:
    """`holds(condition, scope)`: the evidence for a condition, or None. Children that need the slow
    path (regex terms, years) are looked at last, so they run only while the outcome is still open."""

    def __init__(self, compiled: CompiledRules) -> None:
        self.compiled = compiled
        self._slow: dict[int, bool] = {}
        self._plans: dict[int, _NearPlan] = {}

    def slow(self, condition: Condition) -> bool:
        known = self._slow.get(id(condition))
        if known is None:
            lazy = self.compiled.lazy_keys
            known = self._slow[id(condition)] = any(leaf.key in lazy for leaf in leaves(condition, positive=False))
        return known

    def by_cost(self, children: tuple[Condition, ...]) -> list[Condition]:
        return sorted(children, key=self.slow)

    def holds(self, condition: Condition, scope: Scope) -> Evidence | None:
        if isinstance(condition, ConceptRef | TermRef | Year):
            hits = scope.by_key.get(condition.key) or scope.get(condition.key)
            return tuple(hits) if hits else None
        if isinstance(condition, AllOf):
            parts: dict[int, Evidence] = {}
            for child in self.by_cost(condition.children):
                part = self.holds(child, scope)
                if part is None:
                    return None
                parts[id(child)] = part
            return tuple(h for child in condition.children for h in parts[id(child)])
        if isinstance(condition, AnyOf):
            return next((e for c in self.by_cost(condition.children) if (e := self.holds(c, scope)) is not None), None)
        if isinstance(condition, NoneOf):
            return None if any(self.holds(c, scope) is not None for c in self.by_cost(condition.children)) else ()
        if isinstance(condition, Count):
            hits = scope.get(condition.leaf.key)
            return tuple(hits) if len({(h.field, h.start) for h in hits}) >= condition.at_least else None
        if isinstance(condition, InFields):
            return self.holds(condition.child, scope.in_fields(condition.fields))
        found = self.near(condition, scope)
        return None if found is None else found[0]

    def near(self, near: Near, scope: Scope) -> tuple[Evidence, Scope] | None:
        """The evidence and the first window in which every operand holds (in order, if asked)."""
        if self.slow(near):  # let lazily found hits anchor windows too
            for leaf in leaves(near):
                scope.get(leaf.key)
        plan = self._plans.get(id(near))
        if plan is None:
            plan = self._plans[id(near)] = _NearPlan(
                requirements(near, self.compiled.lazy_keys),
                frozenset(leaf.key for leaf in leaves(near, positive=False)),
                frozenset(leaf.key for leaf in leaves(near)),
            )
        groups = plan.groups
        for window in scope.windows(near.window, plan.keys, plan.anchors):
            if any(group.isdisjoint(window.by_key) for group in groups):
                continue
            parts = [self.holds(operand, window) for operand in near.operands]
            if any(p is None for p in parts):
                continue
            evidence = tuple(h for p in parts if p for h in p)
            if near.ordered:
                chosen = self._in_order(near, window, parts)
                if chosen is None:
                    continue
                evidence = chosen
            return evidence, window
        return None

    def _in_order(self, near: Near, window: Scope, parts: list[Evidence | None]) -> Evidence | None:
        """Hits of the operands one after another (each starting after the previous one ends)."""
        chosen: list[Hit] = []
        after = -1
        for operand, part in zip(near.operands, parts, strict=True):
            if isinstance(operand, NoneOf) or not part:
                continue
            if isinstance(operand, ConceptRef | TermRef | Year):
                options = sorted(window.get(operand.key), key=lambda h: h.start)
                hit = next((h for h in options if h.start > after), None)
                if hit is None:
                    return None
                chosen.append(hit)
                after = hit.end - 1
            else:
                if min(h.start for h in part) <= after:
                    return None
                chosen += part
                after = max(h.end for h in part) - 1
        return tuple(chosen)


class Matcher:
    """The compiled rule set, ready to match articles. Pure: text in, matches out."""

    def __init__(self, ruleset: RuleSet, rules: Iterable[Rule] | None = None) -> None:
        """`rules`: match these (default: the enabled rules of the set)."""
        self.compiled = CompiledRules(ruleset, rules)
        self.evaluator = Evaluator(self.compiled)
        self._needs_language = self.compiled.term_languages or any(r.languages for r in self.compiled.rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.compiled.rules

    def prepare(self, article: Article) -> tuple[Scope, ArticleState]:
        """The article's fields scanned once: the scope every rule is evaluated in."""
        docs, found = self._scanned(article)
        return self._scope(docs, found, article)

    def _scanned(self, article: Article) -> tuple[dict[str, Document], dict[str, list[tuple[int, int, int]]]]:
        docs = documents(article)
        return docs, {field: self.compiled.find(doc) for field, doc in docs.items()}

    def _scope(self, docs: dict[str, Document], found: dict[str, list[tuple[int, int, int]]],
               article: Article, keys: Collection[str] | None = None) -> tuple[Scope, ArticleState]:
        """`keys`: build the hits of these keys only (those the rules to evaluate look at)."""
        language = article_language(article) if self._needs_language else article.language
        by_key: dict[str, list[Hit]] = {}
        for field, matches in found.items():
            spans = self.compiled.spans(docs[field], matches)
            for key, hits in self.compiled.hits(field, spans, language, keys).items():
                by_key.setdefault(key, []).extend(hits)
        state = ArticleState(self.compiled, docs, language)
        return Scope(by_key, state), state

    def entities_in(self, article: Article) -> frozenset[str]:
        """Every lexicon entity the article names, in any concept of the enabled rules."""
        scope, _ = self.prepare(article)
        return frozenset(hit.entity for hit in scope.hits() if hit.entity)

    def match(self, article: Article, source_tags: Iterable[str] = ()) -> list[Match]:
        """The rules `article` matches. `source_tags`: the tags of its source (for rules' `sources`)."""
        docs, found = self._scanned(article)
        candidates = self.compiled.candidates_in(found.values())
        if not candidates:
            return []  # most articles: no rule can match, and no span or hit is built (the cost that grows with rules)
        keys = frozenset().union(*(self.compiled.leaf_keys[rule.id] for rule in candidates))
        scope, state = self._scope(docs, found, article, keys)
        matches = []
        for rule in candidates:
            if skipped_because(rule, article, state.language, source_tags):
                continue
            rule_scope = scope.in_fields(rule.fields)
            evidence = self.evaluator.holds(rule.condition, rule_scope)
            if evidence is not None:
                matches.append(_match(rule, evidence, rule_scope, self.compiled.rule_keys[rule.id], state.docs))
        return matches


def skipped_because(rule: Rule, article: Article, language: str | None, source_tags: Iterable[str]) -> str | None:
    """Why a rule's filters keep it from looking at an article, or None when they let it."""
    if rule.languages and language not in rule.languages:
        return f"the article's language ({language or 'unknown'}) is not one of {', '.join(sorted(rule.languages))}"
    if rule.sources and rule.sources.isdisjoint({article.source, *source_tags}):
        return f"the source ({article.source}) is not one of {', '.join(sorted(rule.sources))}"
    return None


def _match(rule: Rule, evidence: Evidence, scope: Scope, keys: frozenset[str], docs: dict[str, Document]) -> Match:
    unique = sorted(set(evidence), key=lambda h: (FIELDS.index(h.field), h.start))
    spans = tuple(span_of(h, docs[h.field]) for h in unique)
    entities = tuple(sorted({h.entity for h in unique if h.entity}))
    return Match(rule.id, rule.title, rule.severity, rule.tags, spans, _snippet(unique, scope, keys, docs), entities)


def span_of(hit: Hit, doc: Document) -> Span:
    start, end = doc.folded.original_span(hit.start, hit.end)
    concept = hit.key.removeprefix("concept:") if hit.key.startswith("concept:") else None
    return Span(hit.field, start, end, doc.original[start:end], hit.term.text, concept, hit.entity)


def _snippet(evidence: list[Hit], scope: Scope, keys: frozenset[str], docs: dict[str, Document]) -> Snippet | None:
    """The sentence holding most of the evidence (a body sentence over the headline on a tie)."""
    if not evidence:
        return None
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for hit in evidence:
        counts[(hit.field, docs[hit.field].sentence_at(hit.start))] += 1
    field, number = max(counts, key=lambda place: (counts[place], place[0] != "title", -place[1]))
    doc = docs[field]
    start, end = doc.original_sentence(number)
    marks: list[tuple[int, int]] = []
    in_sentence = [h for key in keys for h in scope.by_key.get(key, ())
                   if h.field == field and doc.sentence_at(h.start) == number]
    for hit in sorted(in_sentence, key=lambda h: (h.start, -h.end)):
        a, b = doc.folded.original_span(hit.start, hit.end)
        a, b = max(a, start) - start, min(b, end) - start
        if marks and a < marks[-1][1]:
            marks[-1] = (marks[-1][0], max(marks[-1][1], b))
        elif b > a:
            marks.append((a, b))
    return Snippet(field, doc.original[start:end], tuple(marks))
