"""Every term of every enabled rule in one Aho-Corasick automaton: one pass over a text finds them all.

A term compiles to pieces (see `Term.parse`); the automaton finds pieces, and a term's hit is its
pieces found in consecutive words. Word boundaries are part of the automaton's patterns: a piece that
needs a boundary is stored with a space on that side and the text is scanned with a space at each end,
so the automaton reports only whole-word hits and no hit is checked in Python.

Each rule also gets a prefilter (`requirements`): groups of keys of which at least one per group must
occur for the rule to have a chance. The automaton's hits then pick the few rules worth evaluating.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from typing import NamedTuple

import ahocorasick_rs

from monitor.rules.model import (
    AnyOf,
    ConceptRef,
    Condition,
    Count,
    NoneOf,
    Rule,
    RuleSet,
    Term,
    TermRef,
    Year,
    children_of,
    leaves,
)
from monitor.text import Document, is_cjk


class Hit(NamedTuple):
    """A place in one field that satisfies a leaf (`key`): folded offsets, the term, the entity."""

    field: str
    start: int
    end: int
    term: Term
    key: str
    entity: str | None = None


class _Entry(NamedTuple):
    """What an automaton pattern stands for: a piece of a term, and how to get its span back."""

    term: int
    piece: int
    lead: int  # start in the text = start in the scanned string + lead (-1, or 0 past a boundary space)
    length: int
    widen_left: bool
    widen_right: bool


_YEAR = re.compile(r"(?<![0-9])[0-9]{4}(?![0-9])")
_YEAR_TERM = Term("(a year)", ())


class CompiledRules:
    """The rule set with its automaton; `scan` turns a field's text into hits by key."""

    def __init__(self, ruleset: RuleSet, rules: Iterable[Rule] | None = None) -> None:
        self.ruleset = ruleset
        self.rules: tuple[Rule, ...] = tuple(ruleset.enabled if rules is None else rules)
        self.terms: list[Term] = []
        self.owners: list[list[tuple[str, str | None]]] = []
        self.exceptions: dict[int, list[int]] = {}
        self.regexes: dict[str, list[tuple[Term, str | None]]] = defaultdict(list)  # key → its regex terms
        self._term_index: dict[str, int] = {}
        for term, key, entity in self._used_terms():
            self._add(term, key, entity)
        self.lazy_keys = frozenset(self.regexes) | {
            leaf.key for rule in self.rules for leaf in leaves(rule.condition, positive=False)
            if isinstance(leaf, Year)
        }
        self.term_languages = any(term.languages for term in self.terms)
        self.rule_keys = {r.id: frozenset(leaf.key for leaf in leaves(r.condition)) for r in self.rules}
        self.leaf_keys = {r.id: frozenset(leaf.key for leaf in leaves(r.condition, positive=False)) for r in self.rules}
        self.requirements = {r.id: requirements(r.condition, self.lazy_keys) for r in self.rules}
        # Requirement groups as bit masks over the required keys: a group is met when it shares a bit.
        required = sorted({key for groups in self.requirements.values() for group in groups for key in group})
        self._key_bits = {key: 1 << n for n, key in enumerate(required)}
        self._group_bits = [[sum(self._key_bits[k] for k in group) for group in self.requirements[r.id]]
                            for r in self.rules]
        self._by_trigger, self._always = self._dispatch()
        self.automaton, self.entries = _build_automaton(self.terms)
        pattern_keys = [{key for entry in entries for key, _ in self.owners[entry.term]} for entries in self.entries]
        self._pattern_bits = [sum(self._key_bits.get(key, 0) for key in keys) for keys in pattern_keys]
        self._pattern_rules = [tuple({n for key in keys for n in self._by_trigger.get(key, ())})
                               for keys in pattern_keys]

    def _used_terms(self) -> Iterator[tuple[Term, str, str | None]]:
        seen_concepts: set[str] = set()
        for rule in self.rules:
            for leaf in leaves(rule.condition, positive=False):
                if isinstance(leaf, TermRef):
                    yield leaf.term, leaf.key, None
                elif isinstance(leaf, ConceptRef) and leaf.name not in seen_concepts:
                    seen_concepts.add(leaf.name)
                    for term, entity in self.ruleset.concepts[leaf.name].all_terms():
                        yield term, leaf.key, entity

    def _add(self, term: Term, key: str, entity: str | None) -> None:
        if term.regex is not None:
            self.regexes[key].append((term, entity))
            return
        index = self._index(term)
        if (key, entity) not in self.owners[index]:
            self.owners[index].append((key, entity))
        if term.not_in and index not in self.exceptions:
            self.exceptions[index] = [self._index(t) for t in term.not_in]

    def _index(self, term: Term) -> int:
        index = self._term_index.get(term.key)
        if index is None:
            index = self._term_index[term.key] = len(self.terms)
            self.terms.append(term)
            self.owners.append([])
        return index

    def _dispatch(self) -> tuple[dict[str, list[int]], list[int]]:
        """Each rule filed under the keys of one of its requirement groups: the group whose keys the fewest
        other rules require (a rule's own concept, not the country every rule names). Rules with no
        requirement run always."""
        shared: dict[str, int] = defaultdict(int)
        for groups in self.requirements.values():
            for key in {k for group in groups for k in group}:
                shared[key] += 1
        by_trigger: dict[str, list[int]] = defaultdict(list)
        always: list[int] = []
        for number, rule in enumerate(self.rules):
            groups = self.requirements[rule.id]
            if not groups:
                always.append(number)
                continue
            for key in min(groups, key=lambda group: sum(shared[k] for k in group)):
                by_trigger[key].append(number)
        return dict(by_trigger), always

    def candidates(self, present: Collection[str]) -> list[Rule]:
        """The rules whose every requirement group has a key among `present`, in rule order."""
        bits = 0
        numbers = set(self._always)
        for key in present:
            if key in self._key_bits:
                bits |= self._key_bits[key]
                numbers.update(self._by_trigger.get(key, ()))
        return self._passing(bits, numbers)

    def candidates_in(self, found: Iterable[list[tuple[int, int, int]]]) -> list[Rule]:
        """The candidates for the keys whose terms' pieces the fields' matches (`find`) hold: a superset,
        before the pieces of a term are chained and before language and span exceptions."""
        bits = 0
        numbers = set(self._always)
        for pattern in {m[0] for matches in found for m in matches}:
            bits |= self._pattern_bits[pattern]
            numbers.update(self._pattern_rules[pattern])
        return self._passing(bits, numbers)

    def _passing(self, bits: int, numbers: set[int]) -> list[Rule]:
        """The rules of `numbers` whose every requirement group shares a key with the mask `bits`."""
        out = []
        for number in sorted(numbers):
            for group in self._group_bits[number]:
                if not bits & group:
                    break
            else:
                out.append(self.rules[number])
        return out

    def scan(self, field: str, doc: Document, language: str | None = None) -> dict[str, list[Hit]]:
        """Every automaton hit in one field, by key."""
        return self.hits(field, self.spans(doc, self.find(doc)), language)

    def find(self, doc: Document) -> list[tuple[int, int, int]]:
        """The automaton's one pass over a field: (pattern number, start, end) in the text with a space
        at each end."""
        if self.automaton is None or not doc.text:
            return []
        return self.automaton.find_matches_as_indexes(" " + doc.text + " ", overlapping=True)

    def spans(self, doc: Document, matches: list[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
        """Every term's spans in one field's text, by term number, from the automaton's matches."""
        text = doc.text
        found: dict[int, list[tuple[int, int]]] = defaultdict(list)
        pieces: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        entries_of = self.entries
        for pattern, begin, _ in matches:
            for term, piece, lead, length, widen_left, widen_right in entries_of[pattern]:  # unpacked: the hot loop
                start = begin + lead
                stop = start + length
                if widen_left:
                    start = text.rfind(" ", 0, start) + 1
                if widen_right:
                    space = text.find(" ", stop)
                    stop = len(text) if space < 0 else space
                if piece < 0:
                    found[term].append((start, stop))
                else:
                    pieces[(term, piece)].append((start, stop))
        if pieces:
            for index, spans in _chain(self.terms, pieces, text):
                found[index] += spans
        return found

    def hits(self, field: str, found: dict[int, list[tuple[int, int]]], language: str | None,
             keys: Collection[str] | None = None) -> dict[str, list[Hit]]:
        """The spans of one field as hits by key (of `keys` only, if given), without the terms of other
        languages or inside exceptions."""
        by_key: dict[str, list[Hit]] = defaultdict(list)
        for index, spans in found.items():
            owners = self.owners[index] if keys is None else [o for o in self.owners[index] if o[0] in keys]
            if not owners:
                continue  # only an exception phrase, or no key asked for
            term = self.terms[index]
            if term.languages and language not in term.languages:
                continue
            if index in self.exceptions:
                spans = _outside(spans, [s for e in self.exceptions[index] for s in found.get(e, ())])
            for key, entity in owners:
                by_key[key] += [Hit(field, start, end, term, key, entity) for start, end in spans]
        return by_key

    def lazy_hits(self, key: str, field: str, doc: Document) -> list[Hit]:
        """Hits of a key the automaton cannot find: regex terms, years."""
        hits = []
        if key.startswith("year:"):
            first, last = (int(n) for n in key.removeprefix("year:").split("-"))
            for m in _YEAR.finditer(doc.text):
                if first <= int(m.group()) <= last:
                    hits.append(Hit(field, m.start(), m.end(), _YEAR_TERM, key))
        for term, entity in self.regexes.get(key, ()):
            assert term.regex is not None
            hits += [Hit(field, m.start(), m.end(), term, key, entity) for m in term.regex.finditer(doc.text)
                     if m.end() > m.start()]
        return hits


def requirements(condition: Condition, lazy: frozenset[str]) -> list[frozenset[str]]:
    """Groups of keys, one of each of which must occur for `condition` to hold (a sound approximation).

    Keys found lazily (regex terms, years) cannot be required: a group holding one is dropped."""
    if isinstance(condition, ConceptRef | TermRef | Year):
        return [] if condition.key in lazy else [frozenset({condition.key})]
    if isinstance(condition, NoneOf):
        return []
    if isinstance(condition, Count):
        return requirements(condition.leaf, lazy)
    if isinstance(condition, AnyOf):
        # Whichever alternative holds, one key of each of its groups occurs: so one key of every union of
        # a group from each alternative does (a few such unions; past that, the unions of the first ones).
        alternatives = [requirements(child, lazy) for child in condition.children]
        if any(not groups for groups in alternatives):
            return []
        unions: list[frozenset[str]] = [frozenset()]
        for groups in alternatives:
            unions = [union | group for union in unions for group in groups]
            if len(unions) > _MAX_UNIONS:
                return [frozenset(key for groups in alternatives for key in groups[0])]
        return _fewest(unions)
    return _fewest([group for child in children_of(condition) for group in requirements(child, lazy)])


_MAX_UNIONS = 16


def _fewest(groups: list[frozenset[str]]) -> list[frozenset[str]]:
    """The groups without those another one implies (a group holding all of another's keys), smallest
    first, in the same order in every run."""
    unique = sorted(set(groups), key=lambda group: (len(group), sorted(group)))
    return [g for i, g in enumerate(unique) if not any(other <= g for other in unique[:i])]


def _build_automaton(terms: list[Term]) -> tuple[ahocorasick_rs.AhoCorasick | None, list[tuple[_Entry, ...]]]:
    """The automaton over every piece's pattern, and for each pattern (by its number) what it stands for."""
    entries: dict[str, list[_Entry]] = defaultdict(list)
    for term_index, term in enumerate(terms):
        single = len(term.pieces) == 1
        for piece_index, piece in enumerate(term.pieces):
            left = " " if piece.needs_left_boundary else ""
            right = " " if piece.needs_right_boundary else ""
            entry = _Entry(
                term=term_index,
                piece=-1 if single else piece_index,
                lead=len(left) - 1,
                length=len(piece.pattern),
                widen_left=piece.open_left and not is_cjk(piece.pattern[0]),
                widen_right=piece.open_right and not is_cjk(piece.pattern[-1]),
            )
            entries[left + piece.pattern + right].append(entry)
    if not entries:
        return None, []
    # The contiguous NFA: the fastest of the crate's automata on news-sized texts at thousands of terms
    # (benchmarks/rules_bench.py); overlapping matches need the standard match kind.
    automaton = ahocorasick_rs.AhoCorasick(
        list(entries), matchkind=ahocorasick_rs.MatchKind.Standard,
        implementation=ahocorasick_rs.Implementation.ContiguousNFA,
    )
    return automaton, [tuple(where) for where in entries.values()]


def _chain(
    terms: list[Term], pieces: dict[tuple[int, int], list[tuple[int, int]]], text: str
) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """Whole-term spans: each piece found in the word right after the previous piece's word."""
    for (term_index, piece_index), spans in pieces.items():
        if piece_index != 0:
            continue
        for next_index in range(1, len(terms[term_index].pieces)):
            following = pieces.get((term_index, next_index), [])
            spans = [(s, e2) for s, e in spans for s2, e2 in following if _next_word(text, e, s2)]
            if not spans:
                break
        if spans:
            yield term_index, spans


def _next_word(text: str, end: int, start: int) -> bool:
    if start == end + 1:
        return text[end] == " "
    return start == end and (is_cjk(text[end - 1]) or is_cjk(text[start]))


def _outside(spans: list[tuple[int, int]], exceptions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans that no exception span contains."""
    return [(s, e) for s, e in spans if not any(a <= s and e <= b for a, b in exceptions)]
