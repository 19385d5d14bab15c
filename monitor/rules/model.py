"""Rules as typed objects: terms, concepts, the condition tree and the rule around it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from monitor.models import FIELDS
from monitor.text import fold, is_cjk

STATUSES: tuple[str, ...] = ("stable", "test", "experimental")


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file


@dataclass(frozen=True)
class Piece:
    """A run of folded words that must appear contiguously; a term is one or more pieces in a row.

    `open_left`: may start inside a word (`*drohne`); `open_right`: may end inside one (`алабуг*`).
    """

    pattern: str
    open_left: bool = False
    open_right: bool = False

    @property
    def needs_left_boundary(self) -> bool:
        return not self.open_left and not is_cjk(self.pattern[0])

    @property
    def needs_right_boundary(self) -> bool:
        return not self.open_right and not is_cjk(self.pattern[-1])


@dataclass(frozen=True)
class Term:
    """A phrase as written in a rule, and the pieces it compiles to.

    `languages`: the term counts only in articles of these languages (empty: in any). `not_in`: phrases
    inside which a hit of the term does not count ("worker*" not in "workers party"). `regex`: a `/…/`
    term, matched on the folded text (the slow path).
    """

    text: str
    pieces: tuple[Piece, ...]
    languages: frozenset[str] = frozenset()
    not_in: tuple[Term, ...] = ()
    regex: re.Pattern[str] | None = None
    location: Location = field(default=Location(""), compare=False)

    @classmethod
    def parse(cls, text: str, languages: frozenset[str] = frozenset(), not_in: tuple[Term, ...] = (),
              location: Location = Location("")) -> Term:
        """`"северн* коре*"` → pieces `северн*`, `коре*`; a `*` ends a piece, a leading `*` opens one."""
        words: list[tuple[str, bool, bool]] = []
        for raw in text.split():
            folded = fold(raw.strip("*")).split()
            for i, word in enumerate(folded):
                words.append((word, raw.startswith("*") and i == 0, raw.endswith("*") and i == len(folded) - 1))
        pieces: list[Piece] = []
        current: list[str] = []
        open_left = False
        for word, starts_open, ends_open in words:
            if starts_open and current:
                pieces.append(Piece(" ".join(current), open_left, False))
                current = []
            if not current:
                open_left = starts_open
            current.append(word)
            if ends_open:
                pieces.append(Piece(" ".join(current), open_left, True))
                current = []
        if current:
            pieces.append(Piece(" ".join(current), open_left, False))
        return cls(text, tuple(p for piece in pieces for p in _split_at_cjk_spaces(piece)), languages, not_in,
                   location=location)

    @property
    def key(self) -> str:
        """What tells this term apart from another of the same text (its options)."""
        key = self.text
        if self.languages:
            key += " lang=" + ",".join(sorted(self.languages))
        if self.not_in:
            key += " not_in=" + "|".join(t.text for t in self.not_in)
        return key


def _split_at_cjk_spaces(piece: Piece) -> list[Piece]:
    """Korean spacing varies ("북한 노동자" = "북한노동자"): a space between two CJK words splits the piece,
    and consecutive pieces may touch when CJK meets CJK (`compiler._next_word`)."""
    words = piece.pattern.split(" ")
    groups: list[list[str]] = [[words[0]]]
    for word in words[1:]:
        if is_cjk(groups[-1][-1][-1]) and is_cjk(word[0]):
            groups.append([word])
        else:
            groups[-1].append(word)
    if len(groups) == 1:
        return [piece]
    last = len(groups) - 1
    return [Piece(" ".join(g), piece.open_left and i == 0, piece.open_right and i == last)
            for i, g in enumerate(groups)]


@dataclass(frozen=True)
class Concept:
    name: str
    terms: tuple[Term, ...]
    entities: tuple[tuple[str, tuple[Term, ...]], ...] = ()  # (entity name, its aliases)
    description: str = ""
    location: Location = Location("")
    builtin: bool = False

    def all_terms(self) -> list[tuple[Term, str | None]]:
        """Every term with the entity it names (None for plain terms)."""
        pairs: list[tuple[Term, str | None]] = [(t, None) for t in self.terms]
        for entity, aliases in self.entities:
            pairs += [(t, entity) for t in aliases]
        return pairs


# The condition tree. Leaves name what they look for by a key: "concept:NAME" or "term:TEXT".
@dataclass(frozen=True)
class ConceptRef:
    name: str

    @property
    def key(self) -> str:
        return f"concept:{self.name}"


@dataclass(frozen=True)
class TermRef:
    term: Term

    @property
    def key(self) -> str:
        return f"term:{self.term.key}"


@dataclass(frozen=True)
class Year:
    """A year (a four-digit number from 1000 to 2199) in the range [first, last] occurs."""

    first: int
    last: int

    @property
    def key(self) -> str:
        return f"year:{self.first}-{self.last}"


@dataclass(frozen=True)
class Count:
    """A leaf (concept or term) occurs at least `at_least` times (distinct places)."""

    leaf: ConceptRef | TermRef
    at_least: int


@dataclass(frozen=True)
class AllOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Condition, ...]


@dataclass(frozen=True)
class NoneOf:
    """True when none of the children holds (inside a `near` window: none holds in that window)."""

    children: tuple[Condition, ...]


@dataclass(frozen=True)
class InFields:
    """`field:` scoping: the child must hold within these fields of the article."""

    fields: tuple[str, ...]
    child: Condition


@dataclass(frozen=True)
class Window:
    unit: Literal["words", "chars", "sentence", "paragraph"]
    size: int = 0  # words and chars only

    def __str__(self) -> str:
        return f"{self.size} {self.unit}" if self.unit in ("words", "chars") else self.unit


@dataclass(frozen=True)
class Near:
    """Every operand holds inside one window; with `ordered`, their hits come in the order written."""

    window: Window
    operands: tuple[Condition, ...]
    ordered: bool = False


Leaf = ConceptRef | TermRef | Year
Condition = ConceptRef | TermRef | Year | Count | AllOf | AnyOf | NoneOf | InFields | Near


def children_of(condition: Condition) -> tuple[Condition, ...]:
    if isinstance(condition, AllOf | AnyOf | NoneOf):
        return condition.children
    if isinstance(condition, Near):
        return condition.operands
    if isinstance(condition, InFields):
        return (condition.child,)
    if isinstance(condition, Count):
        return (condition.leaf,)
    return ()


def leaves(condition: Condition, positive: bool = True) -> list[Leaf]:
    """The leaves of a condition; with `positive`, only those outside any `not`."""
    if isinstance(condition, ConceptRef | TermRef | Year):
        return [condition]
    if isinstance(condition, NoneOf) and positive:
        return []
    return [leaf for child in children_of(condition) for leaf in leaves(child, positive)]


@dataclass(frozen=True)
class Example:
    """A text a rule must (`expect`) or must not match: its regression test, run by `rules check`."""

    text: str
    expect: bool
    title: str = ""
    language: str | None = None
    source: str = "example"
    location: Location = Location("")


Realert = Literal["never", "exponential"] | timedelta


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    tags: tuple[str, ...]
    condition: Condition
    fields: tuple[str, ...] = FIELDS
    description: str = ""
    enabled: bool = True
    location: Location = Location("")
    status: str = "stable"
    author: str = ""
    falsepositives: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    languages: frozenset[str] = frozenset()  # empty: any language
    sources: frozenset[str] = frozenset()  # source names or tags; empty: any source
    examples: tuple[Example, ...] = ()
    # For the events stage: how long an event stays open for this rule (None: the global policy), how
    # many independent sources must agree before it alerts, and whether a later match alerts again.
    window: timedelta | None = None
    min_sources: int = 1
    realert: Realert = "never"
    # Analyst grading (docs/grading.md): hold until the event's grade / stage meets these; which grading
    # updates also go out at the top level.
    min_grade: str | None = None
    stages: tuple[str, ...] = ()
    notify_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    concepts: dict[str, Concept] = field(default_factory=dict)

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)
