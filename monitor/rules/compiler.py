"""Every term of every enabled rule in one Aho-Corasick automaton: one pass over a text finds them all.

A term compiles to pieces (see `Term.parse`); the automaton finds pieces, and a term's hit is its
pieces found in consecutive words, each with the word boundaries it asks for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from monitor.rules.model import Piece, Rule, RuleSet, Term, TermRef, leaves
from monitor.text import Document, is_cjk


@dataclass(frozen=True)
class Owner:
    """What a term hit counts for: a concept (maybe one of its entities) or a rule's inline term."""

    key: str
    entity: str | None = None


@dataclass(frozen=True)
class Hit:
    field: str
    start: int  # folded offsets
    end: int
    word: int
    sentence: int
    paragraph: int
    term: Term
    key: str
    entity: str | None = None


class CompiledRules:
    """The rule set with its automaton; `scan` turns a field's text into hits."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.rules: tuple[Rule, ...] = ruleset.enabled
        self.rule_keys = {r.id: frozenset(leaf.key for leaf in leaves(r.condition)) for r in self.rules}
        self.terms: list[Term] = []
        self.owners: list[set[Owner]] = []
        self._term_index: dict[str, int] = {}
        for term, owner in self._used_terms():
            self._add(term, owner)
        self.automaton = _build_automaton(self.terms)

    def _used_terms(self) -> Iterable[tuple[Term, Owner]]:
        seen_concepts: set[str] = set()
        for rule in self.rules:
            for leaf in leaves(rule.condition, positive=False):
                if isinstance(leaf, TermRef):
                    yield leaf.term, Owner(leaf.key)
                elif leaf.name not in seen_concepts:
                    seen_concepts.add(leaf.name)
                    for term, entity in self.ruleset.concepts[leaf.name].all_terms():
                        yield term, Owner(leaf.key, entity)

    def _add(self, term: Term, owner: Owner) -> None:
        index = self._term_index.get(term.text)
        if index is None:
            index = self._term_index[term.text] = len(self.terms)
            self.terms.append(term)
            self.owners.append(set())
        self.owners[index].add(owner)

    def scan(self, field: str, doc: Document) -> list[Hit]:
        if not self.terms or not doc.text:
            return []
        pieces = self._find_pieces(doc.text)
        hits = []
        for term_index, spans in _chain(self.terms, pieces, doc):
            term = self.terms[term_index]
            for start, end in spans:
                position = (doc.word_at(start), doc.sentence_at(start), doc.paragraph_at(start))
                hits += [Hit(field, start, end, *position, term, o.key, o.entity) for o in self.owners[term_index]]
        return hits

    def _find_pieces(self, text: str) -> dict[tuple[int, int], list[tuple[int, int]]]:
        found: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        for last, (pattern, places) in self.automaton.iter(text):
            start, end = last - len(pattern) + 1, last + 1
            for term_index, piece_index in places:
                piece = self.terms[term_index].pieces[piece_index]
                if _bounded(text, start, end, piece):
                    found[(term_index, piece_index)].append(_whole_words(text, start, end, piece))
        return found


def _build_automaton(terms: list[Term]) -> ahocorasick.Automaton:
    places: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for term_index, term in enumerate(terms):
        for piece_index, piece in enumerate(term.pieces):
            places[piece.pattern].append((term_index, piece_index))
    automaton = ahocorasick.Automaton()
    for pattern, where in places.items():
        automaton.add_word(pattern, (pattern, tuple(where)))
    if places:
        automaton.make_automaton()
    return automaton


def _is_boundary(text: str, index: int) -> bool:
    return index < 0 or index >= len(text) or text[index] == " " or is_cjk(text[index])


def _bounded(text: str, start: int, end: int, piece: Piece) -> bool:
    if piece.needs_left_boundary and not _is_boundary(text, start - 1):
        return False
    return not (piece.needs_right_boundary and not _is_boundary(text, end))


def _whole_words(text: str, start: int, end: int, piece: Piece) -> tuple[int, int]:
    """A wildcard piece's span widened to its whole word, so highlights cover "workers", not "worker"."""
    if piece.open_left and not is_cjk(piece.pattern[0]):
        start = text.rfind(" ", 0, start) + 1
    if piece.open_right and not is_cjk(piece.pattern[-1]):
        space = text.find(" ", end)
        end = len(text) if space < 0 else space
    return start, end


def _chain(
    terms: list[Term], pieces: dict[tuple[int, int], list[tuple[int, int]]], doc: Document
) -> Iterable[tuple[int, list[tuple[int, int]]]]:
    """Whole-term spans: each piece found in the word right after the previous piece's last word."""
    for (term_index, piece_index), spans in pieces.items():
        if piece_index != 0:
            continue
        for next_index in range(1, len(terms[term_index].pieces)):
            following = pieces.get((term_index, next_index), [])
            spans = [(s, e2) for s, e in spans for s2, e2 in following if doc.word_at(s2) == doc.word_at(e - 1) + 1]
            if not spans:
                break
        if spans:
            yield term_index, spans
