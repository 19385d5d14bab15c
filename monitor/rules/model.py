"""Rules as typed objects: terms, concepts, the condition tree and the rule around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from monitor.models import FIELDS
from monitor.text import fold, is_cjk


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
    """A phrase as written in a rule, and the pieces it compiles to."""

    text: str
    pieces: tuple[Piece, ...]

    @classmethod
    def parse(cls, text: str) -> Term:
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
        return cls(text, tuple(pieces))


@dataclass(frozen=True)
class Concept:
    name: str
    terms: tuple[Term, ...]
    entities: tuple[tuple[str, tuple[Term, ...]], ...] = ()  # (entity name, its aliases)
    description: str = ""
    location: Location = Location("")

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
        return f"term:{self.term.text}"


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
class Window:
    unit: Literal["words", "sentence", "paragraph"]
    size: int = 0  # words only


@dataclass(frozen=True)
class Near:
    window: Window
    operands: tuple[Condition, ...]


Condition = ConceptRef | TermRef | AllOf | AnyOf | NoneOf | Near


def leaves(condition: Condition, positive: bool = True) -> list[ConceptRef | TermRef]:
    """The leaves of a condition; with `positive`, only those outside any `not`."""
    if isinstance(condition, ConceptRef | TermRef):
        return [condition]
    if isinstance(condition, NoneOf) and positive:
        return []
    children = condition.operands if isinstance(condition, Near) else condition.children
    return [leaf for child in children for leaf in leaves(child, positive)]


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


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    concepts: dict[str, Concept] = field(default_factory=dict)

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)
